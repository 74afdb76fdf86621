package emulator

import (
	"encoding/base64"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// readFile returns the content of file at ref (a branch, tag or commit) of
// the bare repository in dir, false when there is none.
func (g *gitServer) readFile(r *http.Request, dir, ref, file string) ([]byte, bool) {
	if !validRepoPath(file) || strings.ContainsAny(ref, " \t\n:^~") || strings.HasPrefix(ref, "-") {
		return nil, false
	}
	out, err := g.run(r.Context(), dir, "cat-file", "blob", ref+":"+file)
	if err != nil {
		return nil, false
	}
	return out, true
}

// GET /repos/{owner}/{repo}/contents/{path}: the stored file, base64, as
// GitHub returns it, so an atomic can verify its upload.
func (e *Emulator) githubGetContents(w http.ResponseWriter, r *http.Request) {
	owner, repo, p := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("path")
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = "main"
	}
	dir, ok := e.git.repoDir("github.com", owner, repo)
	var data []byte
	if ok {
		data, ok = e.git.readFile(r, dir, ref, p)
	}
	if !ok {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	blob := gitBlobSHA(data)
	api := "https://api.github.com/repos/" + owner + "/" + repo
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "size": len(data), "name": path.Base(p), "path": p,
		"content": wrap76(base64.StdEncoding.EncodeToString(data)), "sha": blob,
		"url":          api + "/contents/" + p + "?ref=" + ref,
		"git_url":      api + "/git/blobs/" + blob,
		"html_url":     "https://github.com/" + owner + "/" + repo + "/blob/" + ref + "/" + p,
		"download_url": "https://raw.githubusercontent.com/" + owner + "/" + repo + "/" + ref + "/" + p,
	})
}

// wrap76 breaks base64 into lines of 60 characters and a final newline, as
// GitHub's Contents API does.
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60])
		b.WriteByte('\n')
		s = s[60:]
	}
	b.WriteString(s)
	b.WriteByte('\n')
	return b.String()
}

// GET raw.githubusercontent.com/{owner}/{repo}/{ref}/{path}
func (e *Emulator) rawContent(w http.ResponseWriter, r *http.Request) {
	dir, ok := e.git.repoDir("github.com", r.PathValue("owner"), r.PathValue("repo"))
	var data []byte
	if ok {
		data, ok = e.git.readFile(r, dir, r.PathValue("ref"), r.PathValue("path"))
	}
	if !ok {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(data)
}

// GET /gists/{id}
func (e *Emulator) githubGetGist(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g, ok := e.state.gist(id)
	if !ok {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	files := map[string]any{}
	for name, content := range g.files {
		files[name] = map[string]any{
			"filename": name, "size": len(content), "truncated": false, "type": "text/plain",
			"raw_url": "https://gist.githubusercontent.com/" + fakeLogin + "/" + id + "/raw/" + name,
			"content": string(content),
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "url": "https://api.github.com/gists/" + id, "html_url": "https://gist.github.com/" + id,
		"public": g.public, "description": g.description, "files": files,
		"created_at": g.created.Format(time.RFC3339), "owner": map[string]any{"login": fakeLogin},
	})
}

// GET gist.githubusercontent.com/{owner}/{id}/raw/{file}
func (e *Emulator) gistRaw(w http.ResponseWriter, r *http.Request) {
	g, ok := e.state.gist(r.PathValue("id"))
	var content []byte
	if ok {
		content, ok = g.files[r.PathValue("file")]
	}
	if !ok {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(content)
}

// POST /repos/{owner}/{repo}/releases
func (e *Emulator) githubCreateRelease(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	var req struct {
		TagName string `json:"tag_name"`
		Name    string `json:"name"`
	}
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	if req.TagName == "" {
		fail(http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	id := e.state.addRelease()
	base := "https://api.github.com/repos/" + owner + "/" + repo + "/releases/" + strconv.Itoa(id)
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": id, "tag_name": req.TagName, "name": req.Name, "url": base,
		"html_url":   "https://github.com/" + owner + "/" + repo + "/releases/tag/" + req.TagName,
		"upload_url": "https://uploads.github.com/repos/" + owner + "/" + repo + "/releases/" + strconv.Itoa(id) + "/assets{?name,label}",
	})
}

// POST uploads.github.com/repos/{owner}/{repo}/releases/{id}/assets?name=
// takes the asset as the raw body.
func (e *Emulator) githubUploadAsset(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		githubError(w, http.StatusUnprocessableEntity, "Validation Failed: name is missing")
		return
	}
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	noteFiles(r, NewFile(name, data))
	owner, repo, id := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("id")
	writeJSON(w, http.StatusCreated, map[string]any{
		"name": name, "size": len(data), "state": "uploaded", "content_type": r.Header.Get("Content-Type"),
		"browser_download_url": "https://github.com/" + owner + "/" + repo + "/releases/download/" + id + "/" + name,
	})
}
