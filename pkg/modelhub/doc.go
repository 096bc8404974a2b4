// Package modelhub renders the ModelHub API: the model center's object
// layout in the model-center bucket, the metadata record stored beside each
// archive, and the in-cluster upload Job that copies a trained model from
// its task PVC with mc. Rendering is pure.
package modelhub
