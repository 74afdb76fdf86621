package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// The hosts the emulator answers for, and the only ones the proxy tunnels.
var servedHosts = []string{
	"github.com", "api.github.com", "gist.github.com", "uploads.github.com",
	"raw.githubusercontent.com", "gist.githubusercontent.com",
	"gitlab.com", "api.gitlab.com",
	"bitbucket.org", "api.bitbucket.org",
	"codeberg.org", "dev.azure.com",
	// MITRE's Analytic 1 also names text storage and transfer services.
	"pastebin.com", "justpaste.it", "onpaste.com", "codepad.org", "transfernow.net", "www.transfernow.net",
	// The T1567.004 atomics' webhooks (webhooks.go).
	"discord.com", "hooks.slack.com", "example.webhook.office.com",
	// Amazon S3's endpoints (s3.go); bucket names are under servedWildcards.
	"s3.amazonaws.com", "s3.us-east-1.amazonaws.com",
	// MEGA's API (mega.go); its storage hosts are under servedWildcards.
	"g.api.mega.co.nz",
}

// servedWildcards are the served names that stand for every name of one
// more label (S3's virtual-hosted buckets, MEGA's storage hosts): as in a wildcard certificate,
// "*.s3.amazonaws.com" covers "loot.s3.amazonaws.com" and nothing deeper.
var servedWildcards = []string{"*.s3.amazonaws.com", "*.s3.us-east-1.amazonaws.com", "*.userstorage.mega.co.nz"}

// ServedHosts lists the host names the emulator serves, wildcards aside.
func ServedHosts() []string { return slices.Clone(servedHosts) }

// ServedWildcards lists the served wildcard names ("*.s3.amazonaws.com").
func ServedWildcards() []string { return slices.Clone(servedWildcards) }

// IsServedHost reports whether host is one the emulator serves.
func IsServedHost(host string) bool { return ServedName(host) != "" }

// ServedName is the name host is served under: host itself, the wildcard
// covering it, or "" when it is not served. Addresses, certificates and
// routes are keyed by it.
func ServedName(host string) string {
	if slices.Contains(servedHosts, host) {
		return host
	}
	label, parent, ok := strings.Cut(host, ".")
	if ok && label != "" && slices.Contains(servedWildcards, "*."+parent) {
		return "*." + parent
	}
	return ""
}

// notFound bodies are what each real service answers for an unknown path,
// so a client sees the failure it would see in the wild.
var (
	githubAPINotFound = jsonResponder(http.StatusNotFound, map[string]any{
		"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
	gitlabNotFound    = jsonResponder(http.StatusNotFound, map[string]any{"error": "404 Not Found"})
	bitbucketNotFound = jsonResponder(http.StatusNotFound, map[string]any{
		"type": "error", "error": map[string]any{"message": "Resource not found"}})
	giteaNotFound = jsonResponder(http.StatusNotFound, map[string]any{
		"errors": nil, "message": "not found", "url": "https://codeberg.org/api/swagger"})
)

func htmlNotFound(service string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Page not found · " + service +
			"</title></head><body><h1>404</h1><p>This is not the web page you are looking for.</p></body></html>\n"))
	}
}

func (e *Emulator) buildRoutes() map[string]http.Handler {
	routes := map[string]http.Handler{}

	api := http.NewServeMux()
	api.HandleFunc("PUT /repos/{owner}/{repo}/contents/{path...}", e.githubPutContents)
	api.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", e.githubGetContents)
	api.HandleFunc("POST /repos/{owner}/{repo}/releases", e.githubCreateRelease)
	api.HandleFunc("POST /gists", e.githubCreateGist)
	api.HandleFunc("GET /gists/{id}", e.githubGetGist)
	api.HandleFunc("GET /user", e.githubUser)
	api.HandleFunc("POST /user/repos", e.githubCreateRepo)
	api.HandleFunc("PATCH /repos/{owner}/{repo}", e.githubUpdateRepo)
	api.HandleFunc("PUT /repos/{owner}/{repo}/branches/{branch}/protection", e.githubProtectBranch)
	api.HandleFunc("GET /orgs/{org}/audit-log", e.githubAuditLog)
	api.HandleFunc("POST /repos/{owner}/{repo}/pulls", e.githubPulls)
	api.HandleFunc("PATCH /repos/{owner}/{repo}/pulls/{number}", e.githubPulls)
	api.HandleFunc("POST /repos/{owner}/{repo}/transfer", e.githubTransferRepo)
	api.HandleFunc("DELETE /repos/{owner}/{repo}", e.githubDeleteRepo)
	e.mountExtra(api)
	api.Handle("/", githubAPINotFound)
	routes["api.github.com"] = api

	uploads := http.NewServeMux()
	uploads.HandleFunc("POST /repos/{owner}/{repo}/releases/{id}/assets", e.githubUploadAsset)
	uploads.Handle("/", githubAPINotFound)
	routes["uploads.github.com"] = uploads

	raw := http.NewServeMux()
	raw.HandleFunc("GET /{owner}/{repo}/{ref}/{path...}", e.rawContent)
	routes["raw.githubusercontent.com"] = raw

	gistRaw := http.NewServeMux()
	gistRaw.HandleFunc("GET /{owner}/{id}/raw/{file}", e.gistRaw)
	routes["gist.githubusercontent.com"] = gistRaw

	gh := http.NewServeMux()
	e.git.mount(gh, "github.com", "/{owner}/{repo}")
	gh.Handle("/", htmlNotFound("GitHub"))
	routes["github.com"] = e.privateRepoAuth(gh)

	gist := http.NewServeMux()
	e.git.mount(gist, "gist.github.com", "/{id}")
	e.git.mount(gist, "gist.github.com", "/{owner}/{id}")
	gist.Handle("/", htmlNotFound("GitHub"))
	routes["gist.github.com"] = gist

	gitlabAPI := func(mux *http.ServeMux, prefix string) {
		mux.HandleFunc("POST "+prefix+"/projects/{id}/repository/files/{path...}", e.gitlabFile)
		mux.HandleFunc("PUT "+prefix+"/projects/{id}/repository/files/{path...}", e.gitlabFile)
		mux.HandleFunc("POST "+prefix+"/snippets", e.gitlabSnippet)
	}
	gl := http.NewServeMux()
	gitlabAPI(gl, "/api/v4")
	e.git.mount(gl, "gitlab.com", "/{owner}/{repo}")
	gl.Handle("/", apiOrWebNotFound("/api/", gitlabNotFound, htmlNotFound("GitLab")))
	routes["gitlab.com"] = gl

	glAPI := http.NewServeMux()
	gitlabAPI(glAPI, "/api/v4")
	gitlabAPI(glAPI, "")
	glAPI.Handle("/", gitlabNotFound)
	routes["api.gitlab.com"] = glAPI

	bb := http.NewServeMux()
	e.git.mount(bb, "bitbucket.org", "/{owner}/{repo}")
	bb.Handle("/", htmlNotFound("Bitbucket"))
	routes["bitbucket.org"] = bb

	bbAPI := http.NewServeMux()
	bbAPI.HandleFunc("POST /2.0/repositories/{workspace}/{repo}/src", e.bitbucketSrc)
	bbAPI.Handle("/", bitbucketNotFound)
	routes["api.bitbucket.org"] = bbAPI

	cb := http.NewServeMux()
	cb.HandleFunc("POST /api/v1/repos/{owner}/{repo}/contents/{path...}", e.giteaContents)
	cb.HandleFunc("PUT /api/v1/repos/{owner}/{repo}/contents/{path...}", e.giteaContents)
	e.git.mount(cb, "codeberg.org", "/{owner}/{repo}")
	cb.Handle("/", apiOrWebNotFound("/api/", giteaNotFound, htmlNotFound("Codeberg")))
	routes["codeberg.org"] = cb

	ado := http.NewServeMux()
	e.git.mount(ado, "dev.azure.com", "/{org}/{project}/_git/{repo}")
	ado.Handle("/", htmlNotFound("Azure DevOps"))
	routes["dev.azure.com"] = ado

	e.pasteRoutes(routes)
	e.webhookRoutes(routes)
	e.s3Routes(routes)
	e.megaRoutes(routes)
	return routes
}

// apiOrWebNotFound answers like the service's API under prefix and like its
// web site elsewhere.
func apiOrWebNotFound(prefix string, api, web http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) {
			api(w, r)
			return
		}
		web(w, r)
	}
}

func jsonResponder(code int, body any) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, code, body) }
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}
