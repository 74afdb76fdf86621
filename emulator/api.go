package emulator

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/t1567001/harness/internal/jsonstream"
)

const fakeLogin = "exfil-operator"

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

// PUT /repos/{owner}/{repo}/contents/{path}
func (e *Emulator) githubPutContents(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	owner, repo, p := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("path")
	fail := func(code int, msg string) { githubError(w, code, msg) }
	req, ok := e.readContentsBody(w, r, fail)
	if !ok {
		return
	}
	switch {
	case !req.message.set || len(req.message.b) == 0:
		fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"message\" wasn't supplied.")
		return
	case req.content == nil:
		fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"content\" wasn't supplied.")
		return
	}
	data, err := req.content.finish()
	if err != nil {
		noteText(r, "content is not valid base64: %v", err)
		fail(http.StatusUnprocessableEntity, "content is not valid Base64")
		return
	}
	branch := req.branch.String()
	if branch == "" {
		branch = "main"
	}
	dir, ok := e.git.repoDir("github.com", owner, repo)
	if !ok || !validRepoPath(p) || !validSegment(branch) {
		fail(http.StatusNotFound, "Not Found")
		return
	}
	message, ifSHA := req.message.String(), req.sha.String()
	done, err := e.git.commitFile(r.Context(), dir, fileWrite{branch: branch, path: p, message: message, ifSHA: ifSHA}, payloadReader(data))
	switch {
	case errors.Is(err, errShaMissing):
		fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied.")
		return
	case errors.Is(err, errShaMismatch):
		fail(http.StatusConflict, fmt.Sprintf("%s does not match %s", p, ifSHA))
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
			"name": path.Base(p), "path": p, "sha": blob, "size": data.Size(), "type": "file",
			"url":          api + "/contents/" + p + "?ref=" + branch,
			"html_url":     "https://github.com/" + owner + "/" + repo + "/blob/" + branch + "/" + p,
			"git_url":      api + "/git/blobs/" + blob,
			"download_url": "https://raw.githubusercontent.com/" + owner + "/" + repo + "/" + branch + "/" + p,
		},
		"commit": map[string]any{
			"sha": commit, "message": message,
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
	var description text
	var public bool
	files := e.newGistFiles(r)
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !walkJSON(w, r, members(map[string]member{
		"description": description.take, "public": boolean(&public), "files": files.visit,
	}), fail) {
		return
	}
	if len(files.names) == 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": "Validation Failed",
			"errors":  []any{map[string]any{"resource": "Gist", "code": "missing_field", "field": "files"}},
		})
		return
	}
	received := files.received()
	stored := gist{description: description.String(), public: public, files: map[string]payload{}, created: time.Now().UTC()}
	for _, name := range files.names {
		content := received[name]
		if content == nil || content.Size() == 0 {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
				"message": "Validation Failed",
				"errors":  []any{map[string]any{"resource": "Gist", "code": "missing_field", "field": "files." + name + ".content"}},
			})
			return
		}
		stored.files[name] = content
	}
	for _, content := range stored.files {
		if err := keep(r, content); err != nil {
			bodyFailed(w, r, err, fail)
			return
		}
	}
	id, err := e.state.addGist(stored)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	var noted []File
	for _, name := range files.names {
		noted = append(noted, fileOf(name, stored.files[name]))
	}
	noteFiles(r, noted...)
	out := map[string]any{}
	for _, f := range noted {
		out[f.Name] = map[string]any{
			"filename": f.Name, "size": f.Size, "truncated": false, "type": "text/plain",
			"raw_url": "https://gist.githubusercontent.com/" + fakeLogin + "/" + id + "/raw/" + f.Name,
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": id, "url": "https://api.github.com/gists/" + id, "html_url": "https://gist.github.com/" + id,
		"git_push_url": "https://gist.github.com/" + id + ".git",
		"public":       public, "description": description.String(), "files": out,
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
	var branch, message, encoding text
	var content *upload
	if !walkJSON(w, r, members(map[string]member{
		"branch": branch.take, "commit_message": message.take, "encoding": encoding.take,
		"content": e.fileMember(r, &content, false),
	}), fail) {
		return
	}
	if len(branch.b) == 0 || len(message.b) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "branch is missing, commit_message is missing"})
		return
	}
	data, ok := e.decodeIf(w, r, content.received(), encoding.String(), fail,
		func() { fail(http.StatusBadRequest, "content is not valid base64") })
	if !ok {
		return
	}
	p := r.PathValue("path")
	noteFiles(r, uploaded(p, data)...)
	writeJSON(w, http.StatusCreated, map[string]any{"file_path": p, "branch": branch.String()})
}

// POST /api/v4/snippets
func (e *Emulator) gitlabSnippet(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) { writeJSON(w, code, map[string]any{"message": msg}) }
	if !hasCredential(r) {
		fail(http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	type snippetFile struct {
		path    text
		content *upload
	}
	var title text
	var files []*snippetFile
	if !walkJSON(w, r, members(map[string]member{"title": title.take, "files": func(path []string, kind jsonstream.Kind, literal []byte) (io.Writer, error) {
		switch {
		case len(path) == 1:
			files = files[:0]
			return nil, container(path, kind, jsonstream.Array)
		case len(path) == 2:
			if len(files) == maxFiles {
				return nil, tooManyFiles
			}
			files = append(files, &snippetFile{})
			return nil, container(path, kind, jsonstream.Object)
		case len(path) == 3 && path[2] == "file_path":
			return files[len(files)-1].path.take(path, kind, literal)
		case len(path) == 3 && path[2] == "content":
			return e.fileMember(r, &files[len(files)-1].content, false)(path, kind, literal)
		}
		return nil, nil
	}}), fail) {
		return
	}
	if len(title.b) == 0 || len(files) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "title is missing, files is missing"})
		return
	}
	for _, f := range files {
		noteFiles(r, uploaded(f.path.String(), f.content.received())...)
	}
	id, _ := randomHex(4)
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "title": title.String(), "web_url": "https://gitlab.com/-/snippets/" + id})
}

// POST /2.0/repositories/{workspace}/{repo}/src: Bitbucket commits each
// multipart field whose name is a path as a file.
func (e *Emulator) bitbucketSrc(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		writeJSON(w, code, map[string]any{"type": "error", "error": map[string]any{"message": msg}})
	}
	if !hasCredential(r) {
		fail(http.StatusUnauthorized, "Unauthorized")
		return
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		fail(http.StatusBadRequest, "expected a multipart/form-data body")
		return
	}
	parts, err := e.formParts(r, params["boundary"])
	if err != nil {
		bodyFailed(w, r, err, fail)
		return
	}
	for _, part := range parts {
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
	req, ok := e.readContentsBody(w, r, fail)
	if !ok {
		return
	}
	if req.content == nil {
		fail(http.StatusUnprocessableEntity, "[Content]: Required")
		return
	}
	data, err := req.content.finish()
	if err != nil {
		fail(http.StatusUnprocessableEntity, "content is not valid base64")
		return
	}
	p, branch, message := r.PathValue("path"), req.branch.String(), req.message.String()
	if branch == "" {
		branch = "main"
	}
	if message == "" {
		message = "Add " + p // Gitea's default
	}
	dir, ok := e.git.repoDir("codeberg.org", r.PathValue("owner"), r.PathValue("repo"))
	if !ok || !validRepoPath(p) || !validSegment(branch) {
		fail(http.StatusNotFound, "not found")
		return
	}
	done, err := e.git.commitFile(r.Context(), dir, fileWrite{branch: branch, path: p, message: message, ifSHA: req.sha.String()}, payloadReader(data))
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
		"content": map[string]any{"path": p, "sha": done.blob, "size": data.Size()},
		"commit":  map[string]any{"sha": done.commit, "message": message},
	})
}

// contentsBody is a Contents API write, GitHub's or Gitea's: the file is
// base64 in content, decoded and spooled as it arrives.
type contentsBody struct {
	message, sha, branch text
	content              *upload // nil: not supplied, or null
}

func (e *Emulator) readContentsBody(w http.ResponseWriter, r *http.Request, fail func(int, string)) (*contentsBody, bool) {
	var req contentsBody
	ok := walkJSON(w, r, members(map[string]member{
		"message": req.message.take, "sha": req.sha.take, "branch": req.branch.take,
		"content": e.fileMember(r, &req.content, true),
	}), fail)
	return &req, ok
}
