package open

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"k8s.io/client-go/rest"
)

// browserCommand is the program and arguments that open url on goos:
// $BROWSER when set (as gh and git do), else the desktop's opener.
func browserCommand(goos, browserEnv, url string) []string {
	if browserEnv != "" {
		return append(strings.Fields(browserEnv), url)
	}
	switch goos {
	case "darwin":
		return []string{"open", url}
	case "windows":
		return []string{"rundll32", "url.dll,FileProtocolHandler", url}
	}
	return []string{"xdg-open", url}
}

// OpenBrowser opens url in the default browser and does not wait for it.
func OpenBrowser(url string) error {
	argv := browserCommand(runtime.GOOS, os.Getenv("BROWSER"), url)
	c := exec.Command(argv[0], argv[1:]...)
	if err := c.Start(); err != nil {
		return err
	}
	// Reap it; the browser outlives it or is its child.
	go func() { _ = c.Wait() }()
	return nil
}

// clipboardCommands are the programs, in order of preference, that copy
// their standard input to the clipboard on goos.
func clipboardCommands(goos string, wayland bool) [][]string {
	switch goos {
	case "darwin":
		return [][]string{{"pbcopy"}}
	case "windows":
		return [][]string{{"clip.exe"}}
	}
	cmds := [][]string{{"xclip", "-selection", "clipboard"}, {"xsel", "--clipboard", "--input"}}
	if wayland {
		cmds = append([][]string{{"wl-copy"}}, cmds...)
	}
	return cmds
}

// errNoClipboard says that no clipboard program was found.
var errNoClipboard = errors.New("no clipboard program found")

// CopyToClipboard puts text on the clipboard. The text goes through the
// program's standard input, never its arguments, where other users could
// read it.
func CopyToClipboard(text string) error {
	for _, argv := range clipboardCommands(runtime.GOOS, os.Getenv("WAYLAND_DISPLAY") != "") {
		if _, err := exec.LookPath(argv[0]); err != nil {
			continue
		}
		c := exec.Command(argv[0], argv[1:]...)
		c.Stdin = strings.NewReader(text)
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v %s", argv[0], err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	var names []string
	for _, argv := range clipboardCommands(runtime.GOOS, true) {
		names = append(names, argv[0])
	}
	return fmt.Errorf("%w (looked for %s)", errNoClipboard, strings.Join(names, ", "))
}

// BearerToken returns the bearer token client-go sends with cfg: a static
// token, a token file, or what an exec or auth-provider plugin hands out.
// It runs cfg's credential wrappers on a request that never leaves the
// process. "" means the user authenticates otherwise (a client certificate).
func BearerToken(cfg *rest.Config) (string, error) {
	var got string
	rt, err := rest.HTTPWrappersForConfig(cfg, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Header.Get("Authorization")
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	}))
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(http.MethodGet, "https://credentials.invalid/", nil)
	if err != nil {
		return "", err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", fmt.Errorf("read your credentials: %w", err)
	}
	_ = resp.Body.Close()
	tok, ok := strings.CutPrefix(got, "Bearer ")
	if !ok {
		return "", nil
	}
	return strings.TrimSpace(tok), nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
