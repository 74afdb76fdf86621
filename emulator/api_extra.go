package emulator

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// The REST endpoints the T1567.001 variants use beyond the base atomics:
// a gist update, an issue comment and the Git Data API. Each records what
// it received as files in the ledger, so a variant's delivery is checked
// like any upload.

// mountExtra adds the variants' endpoints to the api.github.com mux.
func (e *Emulator) mountExtra(api *http.ServeMux) {
	api.HandleFunc("PATCH /gists/{id}", e.githubUpdateGist)
	api.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", e.githubIssueComment)
	api.HandleFunc("POST /repos/{owner}/{repo}/git/blobs", e.githubCreateBlob)
	api.HandleFunc("POST /repos/{owner}/{repo}/git/trees", e.githubGitObject("tree"))
	api.HandleFunc("POST /repos/{owner}/{repo}/git/commits", e.githubGitObject("commit"))
	api.HandleFunc("POST /repos/{owner}/{repo}/git/refs", e.githubGitRef)
	api.HandleFunc("PATCH /repos/{owner}/{repo}/git/refs/{ref...}", e.githubGitRef)
}

func (s *state) hasGist(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.gists[id]
	return ok
}

// PATCH /gists/{id}: the files named replace the gist's, as on GitHub.
func (e *Emulator) githubUpdateGist(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	id := r.PathValue("id")
	if !e.state.hasGist(id) {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	req := e.newGistFiles(r)
	if !walkJSON(w, r, members(map[string]member{"files": req.visit}), func(code int, msg string) { githubError(w, code, msg) }) {
		return
	}
	var files []File
	received := req.received()
	for _, name := range req.names {
		if f := received[name]; f != nil && f.Size() > 0 {
			files = append(files, fileOf(name, f))
		}
	}
	noteFiles(r, files...)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "url": "https://api.github.com/gists/" + id,
		"updated_at": time.Now().UTC().Format(time.RFC3339),
	})
}

// maxComment is the longest issue comment GitHub takes, in characters
// (bytes here).
const maxComment = 65536

// POST /repos/{owner}/{repo}/issues/{number}/comments: a body that is
// base64 is recorded decoded, as the adversary's reader would decode it.
func (e *Emulator) githubIssueComment(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	var body *upload
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !walkJSON(w, r, members(map[string]member{"body": e.fileMember(r, &body, false)}), fail) {
		return
	}
	comment := body.received()
	switch {
	case comment.Size() == 0:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed"})
		return
	case comment.Size() > maxComment:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors": []any{map[string]any{"resource": "IssueComment", "code": "custom", "field": "body",
				"message": fmt.Sprintf("body is too long (maximum is %d characters)", maxComment)}}})
		return
	}
	files := []File{fileOf("comment", comment)}
	if data, err := e.decodeSpooled(r, comment, true); err == nil {
		files = append(files, fileOf("comment (base64-decoded)", data))
	}
	noteFiles(r, files...)
	id, err := randomHex(4)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	owner, repo, n := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("number")
	writeJSON(w, http.StatusCreated, map[string]any{
		"id":       id,
		"html_url": "https://github.com/" + owner + "/" + repo + "/issues/" + n + "#issuecomment-" + id,
		"body":     readText(comment), "user": map[string]any{"login": fakeLogin},
	})
}

// POST /repos/{owner}/{repo}/git/blobs: the blob is the payload.
func (e *Emulator) githubCreateBlob(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	var content *upload
	var encoding text
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !walkJSON(w, r, members(map[string]member{"encoding": encoding.take, "content": e.fileMember(r, &content, false)}), fail) {
		return
	}
	data, ok := e.decodeIf(w, r, content.received(), encoding.String(), fail,
		func() { fail(http.StatusUnprocessableEntity, "content is not valid Base64") })
	if !ok {
		return
	}
	sha, err := gitBlobSHAOf(data)
	if err != nil {
		noteText(r, "%v", err)
		fail(http.StatusInternalServerError, "could not store the blob")
		return
	}
	noteFiles(r, fileOf("blob "+sha, data))
	writeJSON(w, http.StatusCreated, map[string]any{
		"sha": sha, "url": "https://api.github.com/repos/" + r.PathValue("owner") + "/" + r.PathValue("repo") + "/git/blobs/" + sha,
	})
}

// githubGitObject accepts a tree or commit and answers with a fresh sha:
// their content is the blobs', already recorded.
func (e *Emulator) githubGitObject(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !requireToken(w, r) {
			return
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			bodyFailed(w, r, err, func(code int, msg string) { githubError(w, code, msg) })
			return
		}
		sha, err := randomHex(20)
		if err != nil {
			githubError(w, http.StatusInternalServerError, err.Error())
			return
		}
		noteText(r, "git %s %s", kind, sha)
		writeJSON(w, http.StatusCreated, map[string]any{
			"sha": sha, "url": "https://api.github.com/repos/" + r.PathValue("owner") + "/" + r.PathValue("repo") + "/git/" + kind + "s/" + sha,
		})
	}
}

// POST /repos/{owner}/{repo}/git/refs and PATCH .../git/refs/{ref}.
func (e *Emulator) githubGitRef(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if !decodeJSON(w, r, &req, func(code int, msg string) { githubError(w, code, msg) }) {
		return
	}
	ref := req.Ref
	if ref == "" {
		ref = "refs/" + r.PathValue("ref")
	}
	noteText(r, "ref %s -> %s", ref, req.SHA)
	code := http.StatusOK
	if r.Method == http.MethodPost {
		code = http.StatusCreated
	}
	writeJSON(w, code, map[string]any{"ref": ref, "object": map[string]any{"type": "commit", "sha": req.SHA}})
}
