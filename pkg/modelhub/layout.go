package modelhub

import (
	"path"
	"strings"
)

// Bucket is the model center's bucket, as in the original platform.
const Bucket = "model-center"

// DefaultEndpoint is the in-cluster MinIO that Kubeflow Pipelines installs.
const DefaultEndpoint = "http://minio-service.kubeflow:9000"

// DefaultVersion is the version used when none is given; it is also the
// movable alias `modelhub tag` sets.
const DefaultVersion = "latest"

// MetadataFile is the name of the metadata record stored beside each archive.
const MetadataFile = "model.json"

// ArchiveName is the file name of a model's archive: <model>.tar.gz.
func ArchiveName(model string) string { return model + ".tar.gz" }

// VersionPrefix is the object key prefix of one version: <model>/<version>/.
func VersionPrefix(model, version string) string { return model + "/" + version + "/" }

// ModelPrefix is the object key prefix of every version of a model: <model>/.
func ModelPrefix(model string) string { return model + "/" }

// ArchiveKey is the object key of a model's archive in Bucket:
// <model>/<version>/<model>.tar.gz.
func ArchiveKey(model, version string) string {
	return VersionPrefix(model, version) + ArchiveName(model)
}

// MetadataKey is the object key of a version's metadata record in Bucket:
// <model>/<version>/model.json.
func MetadataKey(model, version string) string {
	return VersionPrefix(model, version) + MetadataFile
}

// ArchiveURL is the address a server in the cluster downloads the archive
// from: <endpoint>/model-center/<model>/<version>/<model>.tar.gz. A trailing
// slash on endpoint is ignored; an endpoint without a scheme gets http://.
func ArchiveURL(endpoint, model, version string) string {
	e := strings.TrimRight(endpoint, "/")
	if e == "" {
		e = DefaultEndpoint
	}
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	return e + "/" + path.Join(Bucket, ArchiveKey(model, version))
}
