package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"time"
)

// blobAt is the blob of file at ref (a branch, tag or commit) of the
// bare repository in dir: its id and size, false when there is none.
func (g *gitServer) blobAt(r *http.Request, dir, ref, file string) (string, int64, bool) {
	if !validRepoPath(file) || strings.ContainsRune(file, '\n') || strings.ContainsAny(ref, " \t\n:^~") || strings.HasPrefix(ref, "-") {
		return "", 0, false
	}
	out, err := g.runWith(r.Context(), dir, nil, strings.NewReader(ref+":"+file+"\n"), "cat-file", "--batch-check")
	if err != nil {
		return "", 0, false
	}
	f := strings.Fields(string(out))
	if len(f) != 3 || f[1] != "blob" {
		return "", 0, false
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	return f[0], size, err == nil
}

// copyBlob writes the content of blob id to dst as git hands it over.
func (g *gitServer) copyBlob(ctx context.Context, dir, id string, dst io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.git, "-C", dir, "cat-file", "blob", id)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+g.root)
	cmd.Stdout = dst
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git cat-file blob %s in %s: %w", id, dir, err)
	}
	return nil
}

// apiInlineMax is the largest file the API shows inline (a Contents API
// file, a gist file), as on GitHub; the raw URLs have all of any file.
const apiInlineMax = 1 << 20

// GET /repos/{owner}/{repo}/contents/{path}: the stored file, base64, as
// GitHub returns it, so an atomic can verify its upload. Past 1 MB GitHub
// sends no content (encoding "none") and so does the mock.
func (e *Emulator) githubGetContents(w http.ResponseWriter, r *http.Request) {
	owner, repo, p := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("path")
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = "main"
	}
	dir, ok := e.git.repoDir("github.com", owner, repo)
	var blob string
	var size int64
	if ok {
		blob, size, ok = e.git.blobAt(r, dir, ref, p)
	}
	if !ok {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	encoding, content := "none", ""
	if size <= apiInlineMax {
		var data bytes.Buffer
		if err := e.git.copyBlob(r.Context(), dir, blob, &data); err != nil {
			noteText(r, "%v", err)
			githubError(w, http.StatusInternalServerError, "could not read the file")
			return
		}
		encoding, content = "base64", wrap76(base64.StdEncoding.EncodeToString(data.Bytes()))
	}
	api := "https://api.github.com/repos/" + owner + "/" + repo
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": encoding, "size": size, "name": path.Base(p), "path": p,
		"content": content, "sha": blob,
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

// GET raw.githubusercontent.com/{owner}/{repo}/{ref}/{path}: streamed
// from the repository.
func (e *Emulator) rawContent(w http.ResponseWriter, r *http.Request) {
	dir, ok := e.git.repoDir("github.com", r.PathValue("owner"), r.PathValue("repo"))
	var blob string
	if ok {
		blob, _, ok = e.git.blobAt(r, dir, r.PathValue("ref"), r.PathValue("path"))
	}
	if !ok {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if err := e.git.copyBlob(r.Context(), dir, blob, w); err != nil {
		noteText(r, "%v", err)
	}
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
		// As on GitHub, the API shows the first megabyte of a file; the
		// raw URL has all of it.
		head, err := io.ReadAll(io.LimitReader(payloadReader(content), apiInlineMax))
		if err != nil {
			githubError(w, http.StatusInternalServerError, "could not read the gist")
			return
		}
		files[name] = map[string]any{
			"filename": name, "size": content.Size(), "truncated": content.Size() > apiInlineMax, "type": "text/plain",
			"raw_url": "https://gist.githubusercontent.com/" + fakeLogin + "/" + id + "/raw/" + name,
			"content": string(head),
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
	var content payload
	if ok {
		content, ok = g.files[r.PathValue("file")]
	}
	if !ok {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	servePayload(w, content)
}

// servePayload answers p as plain text, streamed.
func servePayload(w http.ResponseWriter, p payload) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, payloadReader(p))
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
	data, err := e.rawBody(r)
	if err != nil {
		bodyFailed(w, r, err, func(code int, msg string) { githubError(w, code, msg) })
		return
	}
	noteFiles(r, fileOf(name, data))
	owner, repo, id := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("id")
	writeJSON(w, http.StatusCreated, map[string]any{
		"name": name, "size": data.Size(), "state": "uploaded", "content_type": r.Header.Get("Content-Type"),
		"browser_download_url": "https://github.com/" + owner + "/" + repo + "/releases/download/" + id + "/" + name,
	})
}
