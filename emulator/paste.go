package emulator

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// The text storage and transfer services MITRE's Analytic 1 names (T1567.003
// and neighbours) each answer their upload the way the real service does,
// minimally, and keep what was uploaded so it can be read back.

// pastes holds every paste by service and key.
type pastes struct {
	mu sync.Mutex
	m  map[string]payload // "host/key" -> content
}

func (p *pastes) add(host string, content payload) (string, error) {
	key, err := pasteKey()
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]payload{}
	}
	p.m[host+"/"+key] = content
	return key, nil
}

func (p *pastes) get(host, key string) (payload, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.m[host+"/"+key]
	return c, ok
}

// pasteKey is an 8-character key like pastebin's.
func pasteKey() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("paste key: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// POST https://pastebin.com/api/api_post.php (Pastebin's developer API):
// the answer is the new paste's URL as plain text, or "Bad API request, ..."
// with status 200 for a wrong key or option, as the real API does.
func (e *Emulator) pastebinPost(w http.ResponseWriter, r *http.Request) {
	form, ok := e.readForm(w, r)
	if !ok {
		return
	}
	switch {
	case form.get("api_dev_key") == "":
		plain(w, http.StatusOK, "Bad API request, invalid api_dev_key")
		return
	case form.get("api_option") != "paste":
		plain(w, http.StatusOK, "Bad API request, invalid api_option")
		return
	case form["api_paste_code"] == nil || form["api_paste_code"].Size() == 0:
		plain(w, http.StatusOK, "Bad API request, api_paste_code was empty")
		return
	}
	e.storePaste(w, r, form["api_paste_code"], firstNonEmptyString(form.get("api_paste_name"), "paste.txt"),
		func(key string) { plain(w, http.StatusOK, "https://pastebin.com/"+key) })
}

// A web form post (justpaste.it, onpaste.com, codepad.org): the text in one
// form field, answered with a redirect to the new page.
func (e *Emulator) formPaste(field string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form, ok := e.readForm(w, r)
		if !ok {
			return
		}
		text := form[field]
		if text == nil || text.Size() == 0 {
			plain(w, http.StatusBadRequest, "empty "+field)
			return
		}
		e.storePaste(w, r, text, field+".txt", func(key string) {
			http.Redirect(w, r, "https://"+e.serviceHost(r)+"/"+key, http.StatusFound)
		})
	}
}

func (e *Emulator) storePaste(w http.ResponseWriter, r *http.Request, text payload, name string, answer func(key string)) {
	if err := keep(r, text); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	key, err := e.pastes.add(e.serviceHost(r), text)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	noteFiles(r, uploaded(name, text)...)
	noteText(r, "paste %s", key)
	answer(key)
}

// GET /raw/{key} (pastebin) or /{key}: the paste's text.
func (e *Emulator) pasteRaw(w http.ResponseWriter, r *http.Request) {
	c, ok := e.pastes.get(e.serviceHost(r), r.PathValue("key"))
	if !ok {
		htmlNotFound("paste")(w, r)
		return
	}
	servePayload(w, c)
}

// TransferNow's web upload, reduced to its two steps: create a transfer
// (POST /api/transfers, JSON with the files' names and sizes), then PUT
// each file to the upload URL it returned. This follows the shape of the
// web application's flow; TransferNow publishes no open upload API.
func (e *Emulator) transfernowCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Files []struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		} `json:"files"`
	}
	if !decodeJSON(w, r, &req, func(code int, msg string) { writeJSON(w, code, map[string]any{"error": msg}) }) {
		return
	}
	if len(req.Files) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "no files"})
		return
	}
	id, err := pasteKey()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	uploads := make([]map[string]any, len(req.Files))
	for i, f := range req.Files {
		uploads[i] = map[string]any{"name": f.Name, "uploadUrl": "https://" + e.serviceHost(r) + "/api/transfers/" + id + "/files/" + url.PathEscape(f.Name)}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"transferId": id, "downloadUrl": "https://www.transfernow.net/dl/" + id, "files": uploads})
}

func (e *Emulator) transfernowUpload(w http.ResponseWriter, r *http.Request) {
	body, err := e.rawBody(r)
	if err != nil {
		bodyFailed(w, r, err, func(code int, msg string) { writeJSON(w, code, map[string]any{"error": msg}) })
		return
	}
	name := r.PathValue("name")
	if err := keep(r, body); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if _, err := e.pastes.add(e.serviceHost(r), body); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	noteFiles(r, uploaded(name, body)...)
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "size": body.Size(), "status": "uploaded"})
}

func firstNonEmptyString(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// pasteRoutes mounts the paste and transfer services.
func (e *Emulator) pasteRoutes(routes map[string]http.Handler) {
	pb := http.NewServeMux()
	pb.HandleFunc("POST /api/api_post.php", e.pastebinPost)
	pb.HandleFunc("GET /raw/{key}", e.pasteRaw)
	pb.Handle("/", htmlNotFound("Pastebin"))
	routes["pastebin.com"] = pb

	for host, field := range map[string]string{"justpaste.it": "content", "onpaste.com": "text", "codepad.org": "code"} {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /{$}", e.formPaste(field))
		mux.HandleFunc("GET /{key}", e.pasteRaw)
		mux.Handle("/", htmlNotFound(host))
		routes[host] = mux
	}

	tn := http.NewServeMux()
	tn.HandleFunc("POST /api/transfers", e.transfernowCreate)
	tn.HandleFunc("PUT /api/transfers/{id}/files/{name}", e.transfernowUpload)
	tn.Handle("/", htmlNotFound("TransferNow"))
	routes["transfernow.net"], routes["www.transfernow.net"] = tn, tn
}
