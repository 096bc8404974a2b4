package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With Global.use_visualdl=True, rank 0 leaves a record file under
// save_model_dir/vdl/; the board lists that directory as a run, on its page
// and at /app/api/runs.
func TestVisualDLBoardListsTheTrainingsRecords(t *testing.T) {
	dir := suite(t, false)
	models := filepath.Join(dir, "models")
	code, out := runStandin(t, dir, "tools/train.py", "-c", "configs/det.yml", "-o", "Global.epoch_num=2",
		"Global.save_model_dir="+models, "Global.use_visualdl=True")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	records, err := filepath.Glob(filepath.Join(models, "vdl", recordPrefix+"*.log"))
	if err != nil || len(records) != 1 {
		t.Fatalf("record files %v %v", records, err)
	}
	if b, _ := os.ReadFile(records[0]); !strings.Contains(string(b), "train/loss step 20 value 0.500000") {
		t.Errorf("records:\n%s", b)
	}

	srv := httptest.NewServer(board(models))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, page := get("/"); code != http.StatusOK || !strings.Contains(page, "<title>VisualDL</title>") || !strings.Contains(page, "<li>vdl</li>") {
		t.Errorf("GET /: %d\n%s", code, page)
	}
	code, body := get("/app/api/runs")
	var resp struct {
		Status int      `json:"status"`
		Data   []string `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || code != http.StatusOK || resp.Status != 0 || len(resp.Data) != 1 || resp.Data[0] != "vdl" {
		t.Errorf("GET /app/api/runs: %d %s (%v)", code, body, err)
	}
	if code, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d", code)
	}

	// Without VisualDL, no records; the command wants --logdir.
	dir2 := suite(t, false)
	if code, out := runStandin(t, dir2, "tools/train.py", "-c", "configs/det.yml", "-o", "Global.epoch_num=1",
		"Global.save_model_dir="+filepath.Join(dir2, "m")); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir2, "m", "vdl")); !os.IsNotExist(err) {
		t.Errorf("records without VisualDL: %v", err)
	}
	if code, out := runStandin(t, dir2, "-m", "visualdl", "--port", "0"); code != 1 || !strings.Contains(out, "the following arguments are required: --logdir") {
		t.Errorf("visualdl without --logdir: exit %d\n%s", code, out)
	}
}
