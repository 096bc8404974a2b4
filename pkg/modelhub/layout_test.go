package modelhub

import "testing"

func TestArchiveURL(t *testing.T) {
	for _, c := range []struct{ endpoint, want string }{
		{"http://minio-service.kubeflow:9000", "http://minio-service.kubeflow:9000/model-center/ppocr-det/v1/ppocr-det.tar.gz"},
		{"http://minio-service.kubeflow:9000/", "http://minio-service.kubeflow:9000/model-center/ppocr-det/v1/ppocr-det.tar.gz"},
		{"https://s3.example.com", "https://s3.example.com/model-center/ppocr-det/v1/ppocr-det.tar.gz"},
		{"minio:9000", "http://minio:9000/model-center/ppocr-det/v1/ppocr-det.tar.gz"},
		{"", "http://minio-service.kubeflow:9000/model-center/ppocr-det/v1/ppocr-det.tar.gz"},
	} {
		if got := ArchiveURL(c.endpoint, "ppocr-det", "v1"); got != c.want {
			t.Errorf("ArchiveURL(%q) = %q, want %q", c.endpoint, got, c.want)
		}
	}
	if got := ArchiveKey("m", "v2"); got != "m/v2/m.tar.gz" {
		t.Errorf("ArchiveKey = %q", got)
	}
	if got := MetadataKey("m", "v2"); got != "m/v2/model.json" {
		t.Errorf("MetadataKey = %q", got)
	}
}
