package emulator

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/t1567001/harness/internal/jsonstream"
)

// Incoming webhooks of Discord, Slack and Microsoft Teams, which the public
// T1567.004 atomics post staged data to. Each answers as the service does
// and records what was posted, so the ledger proves what left.

// The hosts are in servedHosts. The Teams host is the ART atomic's
// default; real ones are <tenant>.webhook.office.com.

// webhookRoutes adds the webhook services to routes.
func (e *Emulator) webhookRoutes(routes map[string]http.Handler) {
	discord := http.NewServeMux()
	discord.HandleFunc("POST /api/webhooks/{id}/{token}", e.discordWebhook)
	discord.Handle("/", jsonResponder(http.StatusNotFound, map[string]any{"message": "404: Not Found", "code": 0}))
	routes["discord.com"] = discord

	slack := http.NewServeMux()
	slack.HandleFunc("POST /services/{team}/{bot}/{token}", e.slackWebhook)
	slack.Handle("/", textResponder(http.StatusNotFound, "no_service"))
	routes["hooks.slack.com"] = slack

	teams := http.NewServeMux()
	teams.HandleFunc("POST /webhookb2/{rest...}", e.teamsWebhook)
	teams.Handle("/", textResponder(http.StatusNotFound, "Not Found"))
	routes["example.webhook.office.com"] = teams
}

func textResponder(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// discordWebhook takes JSON ({"content": ...}) or multipart with file
// attachments; without ?wait=true Discord answers 204.
func (e *Emulator) discordWebhook(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) { writeJSON(w, code, map[string]any{"message": msg, "code": 50006}) }
	empty := func() { fail(http.StatusBadRequest, "Cannot send an empty message") }
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var files []File
	if strings.HasPrefix(mediaType, "multipart/") {
		parts, err := e.formParts(r, params["boundary"])
		if err != nil {
			bodyFailed(w, r, err, fail)
			return
		}
		for _, part := range parts {
			name := part.file
			if name == "" {
				name = part.form
			}
			files = append(files, fileOf(name, part.data))
		}
	} else {
		content, err := e.jsonMember(r, "content")
		switch {
		case notJSON(err) || errors.Is(err, errNoMember):
			empty()
			return
		case err != nil:
			bodyFailed(w, r, err, fail)
			return
		}
		files = append(files, fileOf("content", content))
	}
	if len(files) == 0 {
		empty()
		return
	}
	noteFiles(r, files...)
	if r.URL.Query().Get("wait") == "true" {
		writeJSON(w, http.StatusOK, map[string]any{"id": "1567004000000000000", "webhook_id": r.PathValue("id")})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errNoMember is a JSON body without the member asked for, or with it
// empty.
var errNoMember = errors.New("no such member")

// jsonMember spools the top-level string member name of r's JSON body.
func (e *Emulator) jsonMember(r *http.Request, name string) (payload, error) {
	var file *upload
	if err := jsonstream.Walk(r.Body, members(map[string]member{name: e.fileMember(r, &file, false)})); err != nil {
		return nil, err
	}
	if p := file.received(); p.Size() > 0 {
		return p, nil
	}
	return nil, errNoMember
}

// notJSON is an error of a body that is not the JSON asked for.
func notJSON(err error) bool {
	var syntax *jsonstream.SyntaxError
	var member *memberError
	return errors.As(err, &syntax) || errors.As(err, &member)
}

// slackWebhook takes {"text": ...} and answers "ok", as Slack does.
func (e *Emulator) slackWebhook(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) { textResponder(code, msg)(w, r) }
	text, err := e.jsonMember(r, "text")
	switch {
	case notJSON(err):
		fail(http.StatusBadRequest, "invalid_payload")
		return
	case errors.Is(err, errNoMember):
		fail(http.StatusBadRequest, "no_text")
		return
	case err != nil:
		bodyFailed(w, r, err, fail)
		return
	}
	noteFiles(r, fileOf("text", text))
	textResponder(http.StatusOK, "ok")(w, r)
}

// teamsWebhook takes a MessageCard or Adaptive Card and answers "1".
func (e *Emulator) teamsWebhook(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) { textResponder(code, msg)(w, r) }
	// The card is the file: spooled whole as it is checked to be JSON.
	card := e.newSpool(r)
	err := jsonstream.Walk(io.TeeReader(r.Body, card), func([]string, jsonstream.Kind, []byte) (io.Writer, error) { return nil, nil })
	switch {
	case notJSON(err):
		fail(http.StatusBadRequest, "Bad payload received by generic incoming webhook.")
		return
	case err != nil:
		bodyFailed(w, r, err, fail)
		return
	}
	noteFiles(r, fileOf("card", card.finish()))
	textResponder(http.StatusOK, "1")(w, r)
}
