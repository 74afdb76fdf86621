package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// AuditEvent is one event of GitHub's audit log, in the shape GitHub's
// REST API (GET /orgs/{org}/audit-log) and audit-log streaming give it.
type AuditEvent struct {
	Timestamp              int64         `json:"@timestamp"`
	DocumentID             string        `json:"_document_id"`
	Action                 string        `json:"action"`
	Actor                  string        `json:"actor"`
	ActorID                int64         `json:"actor_id,omitempty"`
	ActorIP                string        `json:"actor_ip,omitempty"`
	CreatedAt              int64         `json:"created_at"`
	Org                    string        `json:"org,omitempty"`
	Repo                   string        `json:"repo,omitempty"`
	RepositoryPublic       *bool         `json:"repository_public,omitempty"`
	Visibility             string        `json:"visibility,omitempty"`
	PreviousVisibility     string        `json:"previous_visibility,omitempty"`
	OperationType          string        `json:"operation_type"`
	TransportProtocolName  string        `json:"transport_protocol_name,omitempty"`
	TransportProtocol      int           `json:"transport_protocol,omitempty"`
	UserAgent              string        `json:"user_agent,omitempty"`
	HashedToken            string        `json:"hashed_token,omitempty"`
	ProgrammaticAccessType string        `json:"programmatic_access_type,omitempty"`
	Branch                 string        `json:"branch,omitempty"`
	Reasons                []AuditReason `json:"reasons,omitempty"`
	OverriddenCodes        []string      `json:"overridden_codes,omitempty"`
	PullRequestURL         string        `json:"pull_request_url,omitempty"`
}

// AuditReason is why a protected-branch rule applied.
type AuditReason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Git reports whether the event is a Git event (the audit log's include=git)
// rather than a web one.
func (a AuditEvent) Git() bool { return strings.HasPrefix(a.Action, "git.") }

// branchProtection is what PUT .../branches/{b}/protection set.
type branchProtection struct {
	allowForcePushes bool
	enforceAdmins    bool
}

// auditLog records what the mock GitHub's repository events would put in
// GitHub's audit log, and the repository settings those events change.
type auditLog struct {
	mu         sync.Mutex
	events     []AuditEvent
	visibility map[string]string           // owner/repo -> private | public
	protection map[string]branchProtection // owner/repo/branch
	pulls      map[string][]string         // owner/repo -> state of pull request n at n-1
}

func newAuditLog() *auditLog {
	return &auditLog{visibility: map[string]string{}, protection: map[string]branchProtection{}, pulls: map[string][]string{}}
}

const forcePushMessage = "Cannot force-push to this branch"

var (
	repoPathRE = regexp.MustCompile(`^/([^/]+)/([^/]+?)(?:\.git)?/(info/refs|git-upload-pack|git-receive-pack)$`)
	patchRE    = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)$`)
	protectRE  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/branches/([^/]+)/protection$`)
	pullsRE    = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls(?:/([0-9]+))?$`)
	transferRE = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/transfer$`)
)

// begin notes what an event needs from before the request is handled and
// returns the function that, given the finished ledger entry, records the
// request's audit events.
func (e *Emulator) auditBegin(r *http.Request, host string) func(Entry) []AuditEvent {
	if host != "github.com" && host != "api.github.com" {
		return func(Entry) []AuditEvent { return nil }
	}
	capture := &bytes.Buffer{}
	if r.Method != http.MethodGet && r.Body != nil {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, &limitedWriter{w: capture, n: 64 << 10}), r.Body}
	}
	var before map[string]string
	var repoDir string
	if m := repoPathRE.FindStringSubmatch(r.URL.Path); host == "github.com" && m != nil && m[3] == "git-receive-pack" {
		if dir, ok := e.git.repoDir("github.com", m[1], m[2]); ok {
			repoDir = dir
			before, _ = e.git.refs(r.Context(), dir)
		}
	}
	prevVis, prevPull := "", ""
	if m := patchRE.FindStringSubmatch(r.URL.Path); host == "api.github.com" && (r.Method == http.MethodPatch || r.Method == http.MethodDelete) && m != nil {
		prevVis = e.audit.visibilityOf(m[1] + "/" + m[2])
	}
	if m := pullsRE.FindStringSubmatch(r.URL.Path); host == "api.github.com" && r.Method == http.MethodPatch && m != nil && m[3] != "" {
		prevPull, _ = e.audit.pullState(m[1]+"/"+m[2], m[3])
	}
	return func(entry Entry) []AuditEvent {
		if entry.Status/100 != 2 {
			return nil
		}
		base := e.audit.base(r, entry)
		var out []AuditEvent
		switch {
		case host == "github.com":
			m := repoPathRE.FindStringSubmatch(r.URL.Path)
			if m == nil {
				return nil
			}
			if base.HashedToken == "" {
				// Anonymous reads of a public repository are not audited.
				return nil
			}
			repo := m[1] + "/" + m[2]
			base.Org, base.Repo = m[1], repo
			e.audit.describeRepo(&base, repo)
			base.TransportProtocolName, base.TransportProtocol = "http", 1
			switch {
			case m[3] == "info/refs" && r.URL.Query().Get("service") == "git-upload-pack":
				// Every clone starts with the ref advertisement; GitHub's
				// git.clone cannot be told from git.fetch on the wire here.
				ev := base
				ev.Action, ev.OperationType = "git.clone", "access"
				out = append(out, ev)
			case m[3] == "git-receive-pack" && repoDir != "":
				out = e.auditPush(r.Context(), base, repoDir, before, parseCommands(capture.Bytes()))
			}
		case r.Method == http.MethodPost && r.URL.Path == "/user/repos":
			var req struct {
				Name    string `json:"name"`
				Private bool   `json:"private"`
			}
			if json.Unmarshal(capture.Bytes(), &req) != nil {
				return nil
			}
			repo := fakeLogin + "/" + req.Name
			vis := "public"
			if req.Private {
				vis = "private"
			}
			e.audit.setVisibility(repo, vis)
			ev := base
			ev.Action, ev.OperationType, ev.Org, ev.Repo = "repo.create", "create", fakeLogin, repo
			e.audit.describeRepo(&ev, repo)
			out = append(out, ev)
		case r.Method == http.MethodPatch && patchRE.MatchString(r.URL.Path):
			m := patchRE.FindStringSubmatch(r.URL.Path)
			repo := m[1] + "/" + m[2]
			if vis := e.audit.visibilityOf(repo); vis != prevVis {
				ev := base
				ev.Action, ev.OperationType, ev.Org, ev.Repo = "repo.access", "modify", m[1], repo
				e.audit.describeRepo(&ev, repo)
				ev.PreviousVisibility = prevVis
				out = append(out, ev)
			}
		case pullsRE.MatchString(r.URL.Path) && (r.Method == http.MethodPost || r.Method == http.MethodPatch):
			m := pullsRE.FindStringSubmatch(r.URL.Path)
			repo := m[1] + "/" + m[2]
			ev := base
			ev.Org, ev.Repo, ev.OperationType = m[1], repo, "modify"
			e.audit.describeRepo(&ev, repo)
			num := m[3]
			if r.Method == http.MethodPost {
				ev.Action, ev.OperationType = "pull_request.create", "create"
				num = strconv.Itoa(e.audit.pullCount(repo))
			} else {
				now, _ := e.audit.pullState(repo, num)
				switch {
				case now == prevPull:
					return nil
				case now == "closed":
					ev.Action = "pull_request.close"
				default:
					ev.Action = "pull_request.reopen"
				}
			}
			ev.PullRequestURL = "https://github.com/" + repo + "/pull/" + num
			out = append(out, ev)
		case r.Method == http.MethodPost && transferRE.MatchString(r.URL.Path):
			m := transferRE.FindStringSubmatch(r.URL.Path)
			var req struct {
				NewOwner string `json:"new_owner"`
				NewName  string `json:"new_name"`
			}
			if json.Unmarshal(capture.Bytes(), &req) != nil {
				return nil
			}
			if req.NewName == "" {
				req.NewName = m[2]
			}
			to := req.NewOwner + "/" + req.NewName
			outgoing := base
			outgoing.Action, outgoing.OperationType, outgoing.Org, outgoing.Repo = "repo.transfer_outgoing", "transfer", m[1], m[1]+"/"+m[2]
			e.audit.describeRepo(&outgoing, to)
			in := base
			in.Action, in.OperationType, in.Org, in.Repo = "repo.transfer", "transfer", req.NewOwner, to
			e.audit.describeRepo(&in, to)
			out = append(out, outgoing, in)
		case r.Method == http.MethodDelete && patchRE.MatchString(r.URL.Path):
			m := patchRE.FindStringSubmatch(r.URL.Path)
			ev := base
			ev.Action, ev.OperationType, ev.Org, ev.Repo = "repo.destroy", "remove", m[1], m[1]+"/"+m[2]
			ev.Visibility = prevVis
			public := prevVis == "public"
			ev.RepositoryPublic = &public
			out = append(out, ev)
		case r.Method == http.MethodPut && protectRE.MatchString(r.URL.Path):
			m := protectRE.FindStringSubmatch(r.URL.Path)
			repo := m[1] + "/" + m[2]
			ev := base
			ev.Action, ev.OperationType, ev.Org, ev.Repo, ev.Branch = "protected_branch.create", "create", m[1], repo, m[3]
			e.audit.describeRepo(&ev, repo)
			out = append(out, ev)
		}
		e.audit.add(out)
		return out
	}
}

// auditPush records a push: git.push when a ref moved, and for a protected
// branch a forced update that an administrator's push overrode
// (protected_branch.policy_override) or that the repository refused
// (protected_branch.rejected_ref_update).
func (e *Emulator) auditPush(ctx context.Context, base AuditEvent, dir string, before map[string]string, cmds []refCommand) []AuditEvent {
	ctx = context.WithoutCancel(ctx)
	after, err := e.git.refs(ctx, dir)
	if err != nil {
		return nil
	}
	var out []AuditEvent
	pushed := false
	for _, c := range cmds {
		branch := strings.TrimPrefix(c.ref, "refs/heads/")
		prot, protected := e.audit.protectionOf(base.Repo + "/" + branch)
		landed := after[c.ref] == c.new
		forced := c.old != zeroSHA && c.new != zeroSHA && before[c.ref] == c.old &&
			(!landed || !e.git.isAncestor(ctx, dir, c.old, c.new))
		pushed = pushed || landed
		if !protected || !forced || prot.allowForcePushes {
			continue
		}
		ev := base
		ev.Branch, ev.OperationType = branch, "modify"
		ev.TransportProtocolName, ev.TransportProtocol = "", 0
		ev.Reasons = []AuditReason{{Code: "force_push", Message: forcePushMessage}}
		if landed {
			ev.Action, ev.OverriddenCodes = "protected_branch.policy_override", []string{"force_push"}
		} else {
			ev.Action = "protected_branch.rejected_ref_update"
		}
		out = append(out, ev)
	}
	if pushed {
		ev := base
		ev.Action, ev.OperationType = "git.push", "modify"
		out = append([]AuditEvent{ev}, out...)
	}
	return out
}

const zeroSHA = "0000000000000000000000000000000000000000"

type refCommand struct{ old, new, ref string }

// parseCommands reads the ref-update commands at the start of a
// git-receive-pack request: pkt-lines "<old> <new> <ref>[\0caps]" up to
// the flush packet.
func parseCommands(body []byte) []refCommand {
	var out []refCommand
	for len(body) >= 4 {
		n, err := strconv.ParseUint(string(body[:4]), 16, 16)
		if err != nil || n == 0 || int(n) > len(body) || n < 4 {
			break
		}
		line := string(body[4:n])
		body = body[n:]
		line, _, _ = strings.Cut(line, "\x00")
		f := strings.Fields(line)
		if len(f) == 3 {
			out = append(out, refCommand{f[0], f[1], f[2]})
		}
	}
	return out
}

func (g *gitServer) isAncestor(ctx context.Context, dir, a, b string) bool {
	_, err := g.run(ctx, dir, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// base fills what every event of a request shares: who, from where, with
// which token, when.
func (a *auditLog) base(r *http.Request, entry Entry) AuditEvent {
	ms := entry.Time.UnixMilli()
	ev := AuditEvent{
		Timestamp: ms, CreatedAt: ms, Actor: fakeLogin, ActorID: 1567001, ActorIP: entry.ClientIP,
		UserAgent: entry.UserAgent,
	}
	if tok := bearer(r); tok != "" {
		sum := sha256.Sum256([]byte(tok))
		ev.HashedToken = base64.StdEncoding.EncodeToString(sum[:])
		ev.ProgrammaticAccessType = accessType(tok)
	}
	id := sha256.Sum256([]byte(strconv.FormatInt(entry.Time.UnixNano(), 10) + r.URL.Path + r.Method))
	ev.DocumentID = base64.RawURLEncoding.EncodeToString(id[:16])
	return ev
}

// bearer is the token a request authenticates with: "token X", "Bearer X"
// or Basic's password (git over HTTPS).
func bearer(r *http.Request) string {
	if _, pw, ok := r.BasicAuth(); ok {
		return pw
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.TrimSpace(tok)
}

// accessType names the kind of token as the audit log's
// programmatic_access_type does, by GitHub's token prefixes.
func accessType(tok string) string {
	switch {
	case strings.HasPrefix(tok, "github_pat_"):
		return "Fine-grained personal access token"
	case strings.HasPrefix(tok, "gho_"):
		return "OAuth access token"
	case strings.HasPrefix(tok, "ghs_"):
		return "GitHub App server-to-server token"
	}
	return "Personal access token (classic)"
}

func (a *auditLog) describeRepo(ev *AuditEvent, repo string) {
	vis := a.visibilityOf(repo)
	public := vis == "public"
	ev.Visibility, ev.RepositoryPublic = vis, &public
}

// visibilityOf is a repository's visibility; one the mock has not been
// told about (created by a push) is public, as a repository created
// without "private" is on GitHub.
func (a *auditLog) visibilityOf(repo string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, ok := a.visibility[strings.ToLower(repo)]; ok {
		return v
	}
	return "public"
}

func (a *auditLog) setVisibility(repo, vis string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.visibility[strings.ToLower(repo)] = vis
}

func (a *auditLog) protectionOf(key string) (branchProtection, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.protection[strings.ToLower(key)]
	return p, ok
}

func (a *auditLog) add(evs []AuditEvent) {
	if len(evs) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, evs...)
}

// AuditLog returns every audit event so far, oldest first.
func (e *Emulator) AuditLog() []AuditEvent {
	e.audit.mu.Lock()
	defer e.audit.mu.Unlock()
	return slices.Clone(e.audit.events)
}

// PATCH /repos/{owner}/{repo}: visibility ({"private": false} or
// {"visibility": "public"}); other settings are accepted and echoed.
func (e *Emulator) githubUpdateRepo(w http.ResponseWriter, r *http.Request) {
	owner, name, _, ok := e.githubRepo(w, r)
	if !ok {
		return
	}
	var req struct {
		Private    *bool  `json:"private"`
		Visibility string `json:"visibility"`
	}
	if !decodeJSON(w, r, &req, func(code int, msg string) { githubError(w, code, msg) }) {
		return
	}
	repo := owner + "/" + name
	switch {
	case req.Visibility == "public" || req.Visibility == "private" || req.Visibility == "internal":
		e.audit.setVisibility(repo, req.Visibility)
	case req.Visibility != "":
		githubError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	case req.Private != nil && *req.Private:
		e.audit.setVisibility(repo, "private")
	case req.Private != nil:
		e.audit.setVisibility(repo, "public")
	}
	vis := e.audit.visibilityOf(repo)
	writeJSON(w, http.StatusOK, map[string]any{
		"name": name, "full_name": repo, "private": vis != "public", "visibility": vis,
		"html_url": "https://github.com/" + repo, "owner": map[string]any{"login": owner},
	})
}

// PUT /repos/{owner}/{repo}/branches/{branch}/protection: the mock keeps
// allow_force_pushes and enforce_admins. With enforce_admins the repository
// itself refuses non-fast-forward pushes; without it the owner's forced
// push goes through and is audited as a policy override.
func (e *Emulator) githubProtectBranch(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	owner, name, branch := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("branch")
	dir, ok := e.git.repoDir("github.com", owner, name)
	if !ok || !(e.state.hasRepo("github.com/"+owner+"/"+name) || dirExists(dir)) {
		githubError(w, http.StatusNotFound, "Branch not found")
		return
	}
	var req struct {
		EnforceAdmins    *bool `json:"enforce_admins"`
		AllowForcePushes *bool `json:"allow_force_pushes"`
	}
	if !decodeJSON(w, r, &req, func(code int, msg string) { githubError(w, code, msg) }) {
		return
	}
	p := branchProtection{enforceAdmins: req.EnforceAdmins != nil && *req.EnforceAdmins, allowForcePushes: req.AllowForcePushes != nil && *req.AllowForcePushes}
	if err := e.git.ensureRepo(r.Context(), dir); err != nil {
		githubError(w, http.StatusInternalServerError, "repository unavailable")
		return
	}
	deny := strconv.FormatBool(p.enforceAdmins && !p.allowForcePushes)
	if _, err := e.git.run(r.Context(), dir, "config", "receive.denyNonFastForwards", deny); err != nil {
		githubError(w, http.StatusInternalServerError, "repository unavailable")
		return
	}
	e.audit.mu.Lock()
	e.audit.protection[strings.ToLower(owner+"/"+name+"/"+branch)] = p
	e.audit.mu.Unlock()
	url := "https://api.github.com/repos/" + owner + "/" + name + "/branches/" + branch + "/protection"
	writeJSON(w, http.StatusOK, map[string]any{
		"url":                url,
		"enforce_admins":     map[string]any{"url": url + "/enforce_admins", "enabled": p.enforceAdmins},
		"allow_force_pushes": map[string]any{"enabled": p.allowForcePushes},
	})
}

// POST /repos/{owner}/{repo}/pulls opens a pull request (numbered from 1);
// PATCH /repos/{owner}/{repo}/pulls/{n} with {"state": "closed"|"open"}
// closes or reopens it.
func (e *Emulator) githubPulls(w http.ResponseWriter, r *http.Request) {
	owner, name, _, ok := e.githubRepo(w, r)
	if !ok {
		return
	}
	var req struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		State string `json:"state"`
	}
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	repo := owner + "/" + name
	code, body := e.audit.updatePull(repo, r.PathValue("number"), req.Title, req.Head, req.Base, req.State)
	if code/100 != 2 {
		fail(code, body["message"].(string))
		return
	}
	writeJSON(w, code, body)
}

// updatePull opens a pull request (num empty) or sets its state, and
// returns the answer GitHub gives.
func (a *auditLog) updatePull(repo, num, title, head, base, state string) (int, map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := strings.ToLower(repo)
	if num == "" {
		if title == "" || head == "" || base == "" {
			return http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed"}
		}
		a.pulls[key] = append(a.pulls[key], "open")
		return http.StatusCreated, pullJSON(repo, len(a.pulls[key]), "open", title)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > len(a.pulls[key]) {
		return http.StatusNotFound, map[string]any{"message": "Not Found"}
	}
	switch state {
	case "open", "closed":
		a.pulls[key][n-1] = state
	case "":
	default:
		return http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed"}
	}
	return http.StatusOK, pullJSON(repo, n, a.pulls[key][n-1], title)
}

func pullJSON(repo string, n int, state, title string) map[string]any {
	return map[string]any{
		"number": n, "state": state, "title": title,
		"url":      "https://api.github.com/repos/" + repo + "/pulls/" + strconv.Itoa(n),
		"html_url": "https://github.com/" + repo + "/pull/" + strconv.Itoa(n),
	}
}

func (a *auditLog) pullState(repo, num string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := strconv.Atoi(num)
	list := a.pulls[strings.ToLower(repo)]
	if err != nil || n < 1 || n > len(list) {
		return "", false
	}
	return list[n-1], true
}

func (a *auditLog) pullCount(repo string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pulls[strings.ToLower(repo)])
}

// POST /repos/{owner}/{repo}/transfer moves the repository, its bare
// repository and its settings, to new_owner (and new_name), as GitHub
// does once the new owner accepts.
func (e *Emulator) githubTransferRepo(w http.ResponseWriter, r *http.Request) {
	owner, name, from, ok := e.githubRepo(w, r)
	if !ok {
		return
	}
	var req struct {
		NewOwner string `json:"new_owner"`
		NewName  string `json:"new_name"`
	}
	fail := func(code int, msg string) { githubError(w, code, msg) }
	if !decodeJSON(w, r, &req, fail) {
		return
	}
	if req.NewName == "" {
		req.NewName = name
	}
	to, ok := e.git.repoDir("github.com", req.NewOwner, req.NewName)
	if !ok || req.NewOwner == "" {
		fail(http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	if dirExists(to) || e.state.hasRepo("github.com/"+req.NewOwner+"/"+req.NewName) {
		fail(http.StatusUnprocessableEntity, "Repository with this name already exists on the new owner's account")
		return
	}
	if dirExists(from) {
		if err := e.git.moveRepo(from, to); err != nil {
			fail(http.StatusInternalServerError, "repository unavailable")
			return
		}
	}
	e.state.moveRepo("github.com/"+owner+"/"+name, "github.com/"+req.NewOwner+"/"+req.NewName)
	oldRepo, newRepo := owner+"/"+name, req.NewOwner+"/"+req.NewName
	e.audit.setVisibility(newRepo, e.audit.visibilityOf(oldRepo))
	e.audit.forget(oldRepo)
	vis := e.audit.visibilityOf(newRepo)
	writeJSON(w, http.StatusAccepted, map[string]any{
		"name": req.NewName, "full_name": newRepo, "private": vis != "public", "visibility": vis,
		"html_url": "https://github.com/" + newRepo, "owner": map[string]any{"login": req.NewOwner},
	})
}

// DELETE /repos/{owner}/{repo} deletes the repository and its bare
// repository.
func (e *Emulator) githubDeleteRepo(w http.ResponseWriter, r *http.Request) {
	owner, name, dir, ok := e.githubRepo(w, r)
	if !ok {
		return
	}
	if err := e.git.moveRepo(dir, ""); err != nil {
		githubError(w, http.StatusInternalServerError, "repository unavailable")
		return
	}
	e.state.moveRepo("github.com/"+owner+"/"+name, "")
	e.audit.forget(owner + "/" + name)
	w.WriteHeader(http.StatusNoContent)
}

func (s *state) moveRepo(from, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.repos, from)
	if to != "" {
		s.repos[to] = true
	}
}

// forget drops a repository's settings (visibility, protection, pull
// requests) when it moves or is deleted.
func (a *auditLog) forget(repo string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := strings.ToLower(repo)
	delete(a.visibility, key)
	delete(a.pulls, key)
	for k := range a.protection {
		if strings.HasPrefix(k, key+"/") {
			delete(a.protection, k)
		}
	}
}

// GET /orgs/{org}/audit-log: GitHub's endpoint, newest first, with its
// include (web, the default; git; all), phrase (action:NAME, repo:NAME,
// actor:NAME) and per_page parameters.
func (e *Emulator) githubAuditLog(w http.ResponseWriter, r *http.Request) {
	if !requireToken(w, r) {
		return
	}
	org := r.PathValue("org")
	q := r.URL.Query()
	include := q.Get("include")
	if include == "" {
		include = "web"
	}
	if include != "web" && include != "git" && include != "all" {
		githubError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	filters := map[string]string{}
	for _, term := range strings.Fields(q.Get("phrase")) {
		if k, v, ok := strings.Cut(term, ":"); ok {
			filters[k] = v
		}
	}
	perPage := 30
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	out := []AuditEvent{}
	events := e.AuditLog()
	for i := len(events) - 1; i >= 0 && len(out) < perPage; i-- {
		ev := events[i]
		if !strings.EqualFold(ev.Org, org) || (include == "web" && ev.Git()) || (include == "git" && !ev.Git()) {
			continue
		}
		if v, ok := filters["action"]; ok && ev.Action != v {
			continue
		}
		if v, ok := filters["repo"]; ok && !strings.EqualFold(ev.Repo, v) {
			continue
		}
		if v, ok := filters["actor"]; ok && ev.Actor != v {
			continue
		}
		out = append(out, ev)
	}
	writeJSON(w, http.StatusOK, out)
}

// privateRepoAuth challenges anonymous Git reads of a private repository
// as GitHub does (401 with a Basic challenge), so that git retries with
// the credentials it has and the read is audited under the token.
func (e *Emulator) privateRepoAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := repoPathRE.FindStringSubmatch(r.URL.Path)
		if m != nil && !hasCredential(r) && e.audit.visibilityOf(m[1]+"/"+m[2]) != "public" {
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "Authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}

func (s *state) hasRepo(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos[key]
}

// githubRepo is the repository an authenticated /repos/{owner}/{repo}/...
// request names, with its bare repository's folder; without a token, or
// where the repository does not exist, it answers as GitHub does (401,
// 404) and ok is false.
func (e *Emulator) githubRepo(w http.ResponseWriter, r *http.Request) (owner, name, dir string, ok bool) {
	if !requireToken(w, r) {
		return "", "", "", false
	}
	owner, name = r.PathValue("owner"), r.PathValue("repo")
	dir, ok = e.git.repoDir("github.com", owner, name)
	if !ok || !(e.state.hasRepo("github.com/"+owner+"/"+name) || dirExists(dir)) {
		githubError(w, http.StatusNotFound, "Not Found")
		return "", "", "", false
	}
	return owner, name, dir, true
}
