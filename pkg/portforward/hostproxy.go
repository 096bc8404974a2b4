package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// HostProxy is a local HTTP server that passes every request on to an
// upstream (a port-forward to an ingress gateway) with the Host header the
// gateway routes by, which a browser cannot set. Redirects to that host come
// back pointing at the proxy, so the browser stays on it.
type HostProxy struct {
	// Address and Port are where it listens.
	Address string
	Port    int
	// Host is the Host header every request carries upstream.
	Host string

	srv  *http.Server
	done chan error
}

// URL returns http://ADDRESS:PORT/.
func (p *HostProxy) URL() string {
	return "http://" + net.JoinHostPort(p.Address, strconv.Itoa(p.Port)) + "/"
}

// StartHostProxy listens on address:port (port 0 picks a free one) and
// serves until Close. Errors reaching the upstream go to errOut.
func StartHostProxy(address string, port int, upstream *url.URL, host string, errOut io.Writer) (*HostProxy, error) {
	if errOut == nil {
		errOut = io.Discard
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", net.JoinHostPort(address, strconv.Itoa(port)), err)
	}
	p := &HostProxy{Address: address, Port: ln.Addr().(*net.TCPAddr).Port, Host: host, done: make(chan error, 1)}
	local := net.JoinHostPort(address, strconv.Itoa(p.Port))
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = host
			r.SetXForwarded()
		},
		ModifyResponse: func(resp *http.Response) error {
			loc, err := resp.Location()
			if err == nil && loc.Host == host {
				loc.Scheme, loc.Host = "http", local
				resp.Header.Set("Location", loc.String())
			}
			return nil
		},
		ErrorLog: log.New(errOut, "", 0),
	}
	p.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(errOut, "", 0)}
	go func() {
		err := p.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		p.done <- err
		close(p.done)
	}()
	return p, nil
}

// Done receives the error that stopped the proxy (nil after Close).
func (p *HostProxy) Done() <-chan error { return p.done }

// Close stops the proxy and waits until it no longer listens.
func (p *HostProxy) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		_ = p.srv.Close()
	}
	for range p.done {
	}
}
