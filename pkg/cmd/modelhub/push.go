package modelhub

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
)

// PushOptions are the options of `modelhub push`.
type PushOptions struct {
	// File is -f, the ModelHub API spec file.
	File string
	Spec modelhub.Spec
	// FromFile uploads a local archive instead of running the in-cluster Job.
	FromFile string
	Ref      modelhub.Ref
	Labels   []string
	S3       S3Options
	Apply    cmdutil.ApplyFlags
	Output   cmdutil.OutputFlags

	Streams cmdutil.IOStreams
	Kube    kube.Interface
	Store   *modelstore.Store
}

// NewCmdPush returns `modelhub push`; runF replaces Run in tests.
func NewCmdPush(f *cmdutil.Factory, runF func(*PushOptions) error) *cobra.Command {
	o := &PushOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "push (NAME --model-name M --model-version V --pvc-name PVC | M:V --from-file FILE)",
		Short: "Upload a model version to the model center",
		Long: `Upload a model version to the model center.

With --pvc-name it runs the in-cluster upload: a Job NAME-model-hub mounts the
task PVC and copies <model>.tar.gz (or --archive-path) with mc into
model-center/<model>/<version>/, with its model.json record. The keys reach the
Job from the Secret data-center (access-key, secret-key) as environment
variables. The command waits for the Job.

With --from-file it uploads an archive from this machine straight to the S3
API, showing progress on a terminal.

A version is immutable: pushing one that exists fails with exit code 2 unless
--force.

-f takes a spec file with the original API's keys (name, namespace, action,
endpoint, model_name, model_version, pvc_name); flags override the file.`,
		Example: `  paddlex modelhub push ppocr-det --model-name ppocr-det --model-version v1 --pvc-name ppocr-det
  paddlex modelhub push -f modelhub.yaml
  paddlex modelhub push ppocr-det --model-name ppocr-det --model-version v1 --pvc-name ppocr-det --dry-run=client -o yaml
  paddlex modelhub push ppocr-det:v2 --from-file ./ppocr-det.tar.gz --framework PaddleOCR --label dataset=icdar2015`,
		Args: cobra.MaximumNArgs(1),
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.File, "filename", "f", "", "spec file (YAML or JSON, - for stdin) with the ModelHub API's keys")
	fs.StringVar(&o.Spec.Action, "action", "", "create, apply, patch (all upload) or delete (removes the upload Job)")
	fs.StringVar(&o.Spec.ModelName, "model-name", "", "model to push from the PVC")
	fs.StringVar(&o.Spec.ModelVersion, "model-version", modelhub.DefaultVersion, "version to push from the PVC")
	fs.StringVar(&o.Spec.PVCName, "pvc-name", "", "task PVC holding the archive (runs the in-cluster upload Job)")
	fs.StringVar(&o.Spec.ArchivePath, "archive-path", "", "archive's path on the PVC (default <model-name>.tar.gz)")
	fs.StringVar(&o.Spec.Image, "image", modelhub.DefaultImage, "MinIO client image of the upload Job")
	fs.StringVar(&o.FromFile, "from-file", "", "upload this local archive as M:V straight to the S3 API")
	fs.StringVar(&o.Spec.Framework, "framework", "", "framework or Paddle suite recorded with the version, e.g. PaddleOCR")
	fs.StringArrayVar(&o.Labels, "label", nil, "KEY=VALUE label recorded with the version (repeatable)")
	fs.BoolVar(&o.Spec.Force, "force", false, "overwrite the version if it exists")
	o.S3.AddFlags(fs)
	o.Apply.AddFlags(fs, true, time.Hour)
	o.Output.AddFlags(fs)
	return cmd
}

// Local reports whether the push uploads from this machine.
func (o *PushOptions) Local() bool { return o.FromFile != "" }

// Complete merges the spec file, the flags the user set and the namespace.
func (o *PushOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	fs := cmd.Flags()
	o.S3.Complete(f)
	labels, err := modelhub.ParseLabels("--label", o.Labels)
	if err != nil {
		return err
	}
	if o.Local() {
		for _, name := range []string{"filename", "action", "model-name", "model-version", "pvc-name", "archive-path", "image", "dry-run"} {
			if cmdutil.Changed(fs, name) {
				return exit.UsageErrorf("--%s is for the in-cluster push and does not go with --from-file", name)
			}
		}
		if len(args) != 1 {
			return exit.UsageErrorf("--from-file needs the version to push as an argument: paddlex modelhub push MODEL:VERSION --from-file FILE")
		}
		if o.Ref, err = modelhub.ParseRef("M:V", args[0]); err != nil {
			return err
		}
		o.Spec.Labels = labels
		return nil
	}
	flags := o.Spec
	if o.File != "" {
		var file modelhub.Spec
		if err := cmdutil.LoadSpecFile(o.File, o.Streams.In, &file); err != nil {
			return err
		}
		o.Spec = file
		for name, set := range map[string]func(){
			"action":        func() { o.Spec.Action = flags.Action },
			"model-name":    func() { o.Spec.ModelName = flags.ModelName },
			"model-version": func() { o.Spec.ModelVersion = flags.ModelVersion },
			"pvc-name":      func() { o.Spec.PVCName = flags.PVCName },
			"archive-path":  func() { o.Spec.ArchivePath = flags.ArchivePath },
			"image":         func() { o.Spec.Image = flags.Image },
			"framework":     func() { o.Spec.Framework = flags.Framework },
			"force":         func() { o.Spec.Force = flags.Force },
			"endpoint":      func() { o.Spec.Endpoint = o.S3.Endpoint },
			"secret":        func() { o.Spec.Secret = o.S3.Secret },
		} {
			if cmdutil.Changed(fs, name) {
				set()
			}
		}
		if o.Spec.Action != "" {
			if err := validate.Action("-f "+o.File+": action", o.Spec.Action); err != nil {
				return err
			}
		}
	} else {
		o.Spec.Endpoint, o.Spec.Secret = o.S3.Endpoint, o.S3.Secret
	}
	if labels != nil {
		o.Spec.Labels = labels
	}
	if len(args) == 1 {
		if strings.Contains(args[0], ":") {
			return exit.UsageErrorf("NAME %q looks like MODEL:VERSION: add --from-file FILE to upload a local archive, or give a Job NAME with --model-name and --model-version", args[0])
		}
		if o.Spec.Name != "" && o.Spec.Name != args[0] {
			return exit.UsageErrorf("NAME %q differs from the spec file's name %q", args[0], o.Spec.Name)
		}
		o.Spec.Name = args[0]
	}
	if o.Spec.Name == "" {
		return exit.UsageErrorf("a NAME is required, as an argument or the spec file's name key (or push MODEL:VERSION --from-file FILE)")
	}
	if o.Spec.Namespace == "" || cmdutil.Changed(fs, "namespace") {
		o.Spec.Namespace = f.Namespace()
	}
	if o.Spec.ModelName == "" && o.Spec.Action != paddle.ActionDelete {
		return exit.UsageErrorf("--model-name is required with --pvc-name (or the spec file's model_name key)")
	}
	o.Spec.Defaults()
	o.Spec.ImageRegistry = f.ImageRegistry
	return nil
}

// Validate checks flags and spec without contacting anything.
func (o *PushOptions) Validate() error {
	if o.Local() {
		return o.S3.Validate()
	}
	if err := o.Apply.Validate(); err != nil {
		return err
	}
	if err := o.Output.Validate(); err != nil {
		return err
	}
	return o.Spec.Validate()
}

// RunTimeout is --timeout, which bounds the in-cluster push; an upload
// from this machine takes as long as the archive needs.
func (o *PushOptions) RunTimeout() time.Duration {
	if o.Local() {
		return 0
	}
	return o.Apply.Timeout
}

// Connect builds the engine of the in-cluster push; nothing is needed for a
// client dry run, and an upload from this machine opens the model center
// in Run.
func (o *PushOptions) Connect(f *cmdutil.Factory) error {
	if o.Local() || o.Apply.ClientDryRun() {
		return nil
	}
	var err error
	o.Kube, err = f.Kube()
	return err
}

// Run pushes.
func (o *PushOptions) Run(ctx context.Context) error {
	if o.Local() {
		return o.runLocal(ctx)
	}
	return o.runJob(ctx)
}

func (o *PushOptions) runLocal(ctx context.Context) error {
	closeStore, err := o.S3.Open(ctx, &o.Store)
	if err != nil {
		return err
	}
	defer closeStore()
	abs, err := filepath.Abs(o.FromFile)
	if err != nil {
		abs = o.FromFile
	}
	m, err := o.Store.Push(ctx, o.Ref, o.FromFile, modelstore.PushOptions{
		Force: o.Spec.Force, Source: "file://" + abs, Framework: o.Spec.Framework, Labels: o.Spec.Labels,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Streams.Out, "model %s pushed: %s, sha256 %s\n", o.Ref, modelstore.HumanBytes(m.Size), m.SHA256)
	return err
}

func (o *PushOptions) runJob(ctx context.Context) error {
	job := modelhub.RenderJob(o.Spec)
	ref := kube.RefOf(job)
	if o.Spec.Action == paddle.ActionDelete {
		err := o.Kube.Delete(ctx, []kube.ObjectRef{ref}, kube.DeleteOptions{DryRun: o.Apply.EngineDryRun(), Wait: o.Apply.Wait})
		if apierrors.IsNotFound(err) {
			return exit.FailedErrorf("%s not found", ref)
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Streams.Out, "job/%s deleted\n", job.GetName())
		return err
	}
	objs := []*unstructured.Unstructured{job}
	if o.Apply.ClientDryRun() {
		return o.print(objs, "(dry run)")
	}
	if err := o.preflight(ctx, ref); err != nil {
		return err
	}
	opts := o.Apply.ApplyOptions()
	applied, err := o.Kube.Apply(ctx, objs, opts)
	if err != nil {
		return err
	}
	if !o.Apply.Wait || opts.DryRun == kube.DryRunServer {
		suffix := ""
		if opts.DryRun == kube.DryRunServer {
			suffix = "(server dry run)"
		}
		return o.print(applied, suffix)
	}
	if _, err := o.Kube.Wait(ctx, ref, kube.JobComplete()); err != nil {
		return o.jobFailed(err, ref)
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, applied)
	}
	_, err = fmt.Fprintf(o.Streams.Out, "model %s pushed from PVC %s by %s\n  download: %s\n",
		o.Spec.Ref(), o.Spec.PVCName, ref, modelhub.ArchiveURL(o.Spec.Endpoint, o.Spec.ModelName, o.Spec.ModelVersion))
	return err
}

// preflight reports what would otherwise leave the Job's pod pending, and
// clears a finished Job of the same name: a Job is one run, and this is a
// new one.
func (o *PushOptions) preflight(ctx context.Context, ref kube.ObjectRef) error {
	secretHint := "create it with the model center's keys as access-key and secret-key"
	if o.Spec.Secret == paddle.DataCenterSecret {
		secretHint += ", or run `" + install.PrerequisitesCommand(o.Spec.Namespace) + "`"
	}
	for _, p := range []struct{ kind, name, flag, hint string }{
		{"Secret", o.Spec.Secret, "--secret", secretHint},
		{"PersistentVolumeClaim", o.Spec.PVCName, "--pvc-name", "name the task PVC the training wrote the model to"},
	} {
		_, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind(p.kind), Namespace: o.Spec.Namespace, Name: p.name})
		switch {
		case err == nil:
		case apierrors.IsNotFound(err):
			return exit.PreconditionErrorf("%s: %s %s/%s does not exist: %s", p.flag, p.kind, o.Spec.Namespace, p.name, p.hint)
		case kube.IsForbidden(err):
			fmt.Fprintf(o.Streams.ErrOut, "warning: cannot check that %s %s/%s exists: %v\n", p.kind, o.Spec.Namespace, p.name, err)
		default:
			return err
		}
	}
	old, err := o.Kube.Get(ctx, ref)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !jobFinished(old) {
		return exit.FailedErrorf("%s is still running an upload: wait for it, or remove it with `paddlex modelhub push %s --action delete -n %s`", ref, o.Spec.Name, o.Spec.Namespace)
	}
	fmt.Fprintf(o.Streams.ErrOut, "replacing the finished %s\n", ref)
	return o.Kube.Delete(ctx, []kube.ObjectRef{ref}, kube.DeleteOptions{Wait: true, IgnoreNotFound: true})
}

func jobFinished(job *unstructured.Unstructured) bool {
	for _, c := range kube.Conditions(job) {
		if (c.Type == "Complete" || c.Type == "Failed") && c.Status == "True" {
			return true
		}
	}
	return false
}

// jobFailed gives the Job's failure the exit code of its cause: the
// pod failure policy stops it at once on an existing version (2) or a
// missing archive (4).
func (o *PushOptions) jobFailed(err error, ref kube.ObjectRef) error {
	var fe *kube.FailedError
	if !errors.As(err, &fe) {
		return err
	}
	msg := fe.Message
	switch {
	case strings.Contains(msg, fmt.Sprintf("exit code %d", modelhub.JobExitExists)):
		return exit.UsageErrorf("model %s already exists and versions are immutable: push another version, or overwrite it with --force (%s)", o.Spec.Ref(), ref)
	case strings.Contains(msg, fmt.Sprintf("exit code %d", modelhub.JobExitNoArchive)):
		return exit.PreconditionErrorf("%s: no archive %s on PVC %s: train the model with need_convert, or set --archive-path", ref, o.Spec.ArchivePath, o.Spec.PVCName)
	}
	return fmt.Errorf("%w\n  inspect: kubectl logs -n %s job/%s", err, ref.Namespace, ref.Name)
}

func (o *PushOptions) print(objs []*unstructured.Unstructured, suffix string) error {
	return o.Output.PrintApplied(o.Streams.Out, objs, o.Spec.Action, suffix)
}
