package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"time"
)

const fakeLogin = "exfil-operator"

// decodeBase64 accepts what the real services accept: standard base64,
// possibly wrapped over several lines.
func decodeBase64(s string) ([]byte, error) {
	s = strings.NewReplacer("\n", "", "\r", "").Replace(s)
	return base64.StdEncoding.DecodeString(s)
}

func githubError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func requireToken(w http.ResponseWriter, r *http.Request) bool {
	if hasCredential(r) {
		return true
	}
	githubError(w, http.StatusUnauthorized, "Requires authentication")
	return false
}

// decodeJSON reads the body into v, answering the service's error on failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, fail func(int, string)) bool {
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		fail(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// PUT /repos/{owner}/{repo}/contents/{path}
func (e *Emulator) githubPutContents(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	owner, repo, p := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("path")
	var req struct {
		Message string  `json:"message"`
		Content *string `json:"content"`
		SHA     string  `json:"sha"`
		Branch  string  `json:"branch"`
	}
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	switch {
	case req.Message == "":
		fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"message\" wasn't supplied.")
		return
	case req.Content == nil:
		fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"content\" wasn't supplied.")
		return
	}
	data, err := decodeBase64(*req.Content)
	if err != nil {
		noteText(r, "content is not valid base64: %v", err)
		fail(http.StatusUnprocessableEntity, "content is not valid Base64")
		return
	}
	branch := req.Branch
	if branch == "" {
		branch = "main"
	}
	dir, ok := e.git.repoDir("github.com", owner, repo)
	if !ok || !validRepoPath(p) || !validSegment(branch) {
		fail(http.StatusNotFound, "Not Found")
		return
	}
	done, err := e.git.commitFile(r.Context(), dir, fileWrite{branch: branch, path: p, message: req.Message, ifSHA: req.SHA}, bytes.NewReader(data))
	switch {
	case errors.Is(err, errShaMissing):
		fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied.")
		return
	case errors.Is(err, errShaMismatch):
		fail(http.StatusConflict, fmt.Sprintf("%s does not match %s", p, req.SHA))
		return
	case err != nil:
		fail(http.StatusInternalServerError, "could not store the file")
		noteText(r, "commit: %v", err)
		return
	}
	noteFiles(r, uploaded(p, data)...)
	code := http.StatusOK
	if done.created {
		code = http.StatusCreated
	}
	blob, commit := done.blob, done.commit
	api := "https://api.github.com/repos/" + owner + "/" + repo
	writeJSON(w, code, map[string]any{
		"content": map[string]any{
			"name": path.Base(p), "path": p, "sha": blob, "size": len(data), "type": "file",
			"url":          api + "/contents/" + p + "?ref=" + branch,
			"html_url":     "https://github.com/" + owner + "/" + repo + "/blob/" + branch + "/" + p,
			"git_url":      api + "/git/blobs/" + blob,
			"download_url": "https://raw.githubusercontent.com/" + owner + "/" + repo + "/" + branch + "/" + p,
		},
		"commit": map[string]any{
			"sha": commit, "message": req.Message,
			"url":      api + "/git/commits/" + commit,
			"html_url": "https://github.com/" + owner + "/" + repo + "/commit/" + commit,
			"author":   map[string]any{"name": fakeLogin, "date": time.Now().UTC().Format(time.RFC3339)},
		},
	})
}

// POST /gists
func (e *Emulator) githubCreateGist(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	var req struct {
		Description string `json:"description"`
		Public      bool   `json:"public"`
		Files       map[string]struct {
			Content *string `json:"content"`
		} `json:"files"`
	}
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	if len(req.Files) == 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": "Validation Failed",
			"errors":  []any{map[string]any{"resource": "Gist", "code": "missing_field", "field": "files"}},
		})
		return
	}
	var files []File
	stored := gist{description: req.Description, public: req.Public, files: map[string][]byte{}, created: time.Now().UTC()}
	for name, f := range req.Files {
		if f.Content == nil || *f.Content == "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
				"message": "Validation Failed",
				"errors":  []any{map[string]any{"resource": "Gist", "code": "missing_field", "field": "files." + name + ".content"}},
			})
			return
		}
		files = append(files, NewFile(name, []byte(*f.Content)))
		stored.files[name] = []byte(*f.Content)
	}
	id, err := e.state.addGist(stored)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	noteFiles(r, files...)
	out := map[string]any{}
	for _, f := range files {
		out[f.Name] = map[string]any{
			"filename": f.Name, "size": f.Size, "truncated": false, "type": "text/plain",
			"raw_url": "https://gist.githubusercontent.com/" + fakeLogin + "/" + id + "/raw/" + f.Name,
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": id, "url": "https://api.github.com/gists/" + id, "html_url": "https://gist.github.com/" + id,
		"git_push_url": "https://gist.github.com/" + id + ".git",
		"public":       req.Public, "description": req.Description, "files": out,
		"created_at": time.Now().UTC().Format(time.RFC3339),
		"owner":      map[string]any{"login": fakeLogin},
	})
}

// GET /user
func (e *Emulator) githubUser(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"login": fakeLogin, "id": 1567001, "type": "User", "site_admin": false,
		"html_url": "https://github.com/" + fakeLogin,
	})
}

// POST /user/repos
func (e *Emulator) githubCreateRepo(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	var req struct {
		Name    string `json:"name"`
		Private bool   `json:"private"`
	}
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	if req.Name == "" || !validSegment(req.Name) {
		fail(http.StatusUnprocessableEntity, "Repository creation failed: name is invalid")
		return
	}
	if !e.state.createRepo("github.com/" + fakeLogin + "/" + req.Name) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": "Repository creation failed.",
			"errors":  []any{map[string]any{"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"}},
		})
		return
	}
	// Created on disk too, so that it can be cloned like on GitHub.
	if dir, ok := e.git.repoDir("github.com", fakeLogin, req.Name); ok {
		if err := e.git.ensureRepo(r.Context(), dir); err != nil {
			noteText(r, "create repository: %v", err)
			fail(http.StatusInternalServerError, "Repository creation failed.")
			return
		}
	}
	full := fakeLogin + "/" + req.Name
	writeJSON(w, http.StatusCreated, map[string]any{
		"name": req.Name, "full_name": full, "private": req.Private,
		"html_url":  "https://github.com/" + full,
		"clone_url": "https://github.com/" + full + ".git",
		"owner":     map[string]any{"login": fakeLogin},
	})
}

// POST|PUT /api/v4/projects/{id}/repository/files/{path}: GitLab's files
// API takes the content as text, or as base64 with encoding=base64.
func (e *Emulator) gitlabFile(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) { writeJSON(w, code, map[string]any{"message": msg}) }
	if !hasCredential(r) {
		fail(http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	var req struct {
		Branch        string `json:"branch"`
		Content       string `json:"content"`
		Encoding      string `json:"encoding"`
		CommitMessage string `json:"commit_message"`
	}
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	if req.Branch == "" || req.CommitMessage == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "branch is missing, commit_message is missing"})
		return
	}
	data := []byte(req.Content)
	if req.Encoding == "base64" {
		var err error
		if data, err = decodeBase64(req.Content); err != nil {
			fail(http.StatusBadRequest, "content is not valid base64")
			return
		}
	}
	p := r.PathValue("path")
	noteFiles(r, uploaded(p, data)...)
	writeJSON(w, http.StatusCreated, map[string]any{"file_path": p, "branch": req.Branch})
}

// POST /api/v4/snippets
func (e *Emulator) gitlabSnippet(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) { writeJSON(w, code, map[string]any{"message": msg}) }
	if !hasCredential(r) {
		fail(http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	var req struct {
		Title string `json:"title"`
		Files []struct {
			FilePath string `json:"file_path"`
			Content  string `json:"content"`
		} `json:"files"`
	}
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	if req.Title == "" || len(req.Files) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "title is missing, files is missing"})
		return
	}
	for _, f := range req.Files {
		noteFiles(r, uploaded(f.FilePath, []byte(f.Content))...)
	}
	id, _ := randomHex(4)
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "title": req.Title, "web_url": "https://gitlab.com/-/snippets/" + id})
}

// POST /2.0/repositories/{workspace}/{repo}/src: Bitbucket commits each
// multipart field whose name is a path as a file.
func (e *Emulator) bitbucketSrc(w http.ResponseWriter, r *http.Request) {
	if !hasCredential(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"type": "error", "error": map[string]any{"message": "Unauthorized"}})
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"type": "error", "error": map[string]any{"message": "expected a multipart/form-data body"}})
		return
	}
	for _, part := range formParts(body, params["boundary"]) {
		if strings.Contains(part.form, "/") || part.file != "" {
			noteFiles(r, uploaded(strings.TrimPrefix(part.form, "/"), part.data)...)
		}
	}
	w.WriteHeader(http.StatusCreated)
}

// POST|PUT /api/v1/repos/{owner}/{repo}/contents/{path}: Gitea (Codeberg)
// takes base64 content like GitHub.
func (e *Emulator) giteaContents(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		writeJSON(w, code, map[string]any{"message": msg, "url": "https://codeberg.org/api/swagger"})
	}
	if !hasCredential(r) {
		fail(http.StatusUnauthorized, "token is required")
		return
	}
	var req struct {
		Content *string `json:"content"`
		Message string  `json:"message"`
		SHA     string  `json:"sha"`
		Branch  string  `json:"branch"`
	}
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	if req.Content == nil {
		fail(http.StatusUnprocessableEntity, "[Content]: Required")
		return
	}
	data, err := decodeBase64(*req.Content)
	if err != nil {
		fail(http.StatusUnprocessableEntity, "content is not valid base64")
		return
	}
	p, branch := r.PathValue("path"), req.Branch
	if branch == "" {
		branch = "main"
	}
	if req.Message == "" {
		req.Message = "Add " + p // Gitea's default
	}
	dir, ok := e.git.repoDir("codeberg.org", r.PathValue("owner"), r.PathValue("repo"))
	if !ok || !validRepoPath(p) || !validSegment(branch) {
		fail(http.StatusNotFound, "not found")
		return
	}
	done, err := e.git.commitFile(r.Context(), dir, fileWrite{branch: branch, path: p, message: req.Message, ifSHA: req.SHA}, bytes.NewReader(data))
	switch {
	case errors.Is(err, errShaMissing):
		fail(http.StatusUnprocessableEntity, "repository file already exists ["+p+"]")
		return
	case errors.Is(err, errShaMismatch):
		fail(http.StatusConflict, "sha does not match ["+p+"]")
		return
	case err != nil:
		noteText(r, "commit: %v", err)
		fail(http.StatusInternalServerError, "could not store the file")
		return
	}
	noteFiles(r, uploaded(p, data)...)
	writeJSON(w, http.StatusCreated, map[string]any{
		"content": map[string]any{"path": p, "sha": done.blob, "size": len(data)},
		"commit":  map[string]any{"sha": done.commit, "message": req.Message},
	})
}

// formPart is one part of a multipart/form-data body, read whole.
type formPart struct {
	form, file string // the form field's name and the file name, if any
	data       []byte
}

// formParts reads the parts of a multipart body up to the first it cannot
// read.
func formParts(body []byte, boundary string) []formPart {
	var parts []formPart
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if err != nil {
			return parts
		}
		data, _ := io.ReadAll(part)
		parts = append(parts, formPart{form: part.FormName(), file: part.FileName(), data: data})
	}
}
