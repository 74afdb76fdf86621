package emulator

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"
)

// Incoming webhooks of Discord, Slack and Microsoft Teams, which the public
// T1567.004 atomics post staged data to. Each answers as the service does
// and records what was posted, so the ledger proves what left.

// The hosts are in servedHosts. The Teams host is the ART atomic's
// default; real ones are <tenant>.webhook.office.com.

// webhookRoutes adds the webhook services to routes.
func (e *Emulator) webhookRoutes(routes map[string]http.Handler) {
	discord := http.NewServeMux()
	discord.HandleFunc("POST /api/webhooks/{id}/{token}", discordWebhook)
	discord.Handle("/", jsonResponder(http.StatusNotFound, map[string]any{"message": "404: Not Found", "code": 0}))
	routes["discord.com"] = discord

	slack := http.NewServeMux()
	slack.HandleFunc("POST /services/{team}/{bot}/{token}", slackWebhook)
	slack.Handle("/", textResponder(http.StatusNotFound, "no_service"))
	routes["hooks.slack.com"] = slack

	teams := http.NewServeMux()
	teams.HandleFunc("POST /webhookb2/{rest...}", teamsWebhook)
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
func discordWebhook(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var files []File
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		for _, part := range formParts(body, params["boundary"]) {
			name := part.file
			if name == "" {
				name = part.form
			}
			files = append(files, NewFile(name, part.data))
		}
	default:
		var msg struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(body, &msg) != nil || msg.Content == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Cannot send an empty message", "code": 50006})
			return
		}
		files = append(files, NewFile("content", []byte(msg.Content)))
	}
	if len(files) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Cannot send an empty message", "code": 50006})
		return
	}
	noteFiles(r, files...)
	if r.URL.Query().Get("wait") == "true" {
		writeJSON(w, http.StatusOK, map[string]any{"id": "1567004000000000000", "webhook_id": r.PathValue("id")})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// slackWebhook takes {"text": ...} and answers "ok", as Slack does.
func slackWebhook(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var msg struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(body, &msg) != nil {
		textResponder(http.StatusBadRequest, "invalid_payload")(w, r)
		return
	}
	if msg.Text == "" {
		textResponder(http.StatusBadRequest, "no_text")(w, r)
		return
	}
	noteFiles(r, NewFile("text", []byte(msg.Text)))
	textResponder(http.StatusOK, "ok")(w, r)
}

// teamsWebhook takes a MessageCard or Adaptive Card and answers "1".
func teamsWebhook(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if !json.Valid(body) {
		textResponder(http.StatusBadRequest, "Bad payload received by generic incoming webhook.")(w, r)
		return
	}
	noteFiles(r, NewFile("card", body))
	textResponder(http.StatusOK, "1")(w, r)
}
