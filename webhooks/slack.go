package webhooks

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// slackMessage renders a change as a Slack incoming-webhook message: a
// one-line summary (the notification text) and Block Kit blocks with the
// asset linked in the UI.
func slackMessage(e changelog.Entry, ent *catalog.Entity, link string) map[string]any {
	name := string(e.Subject)
	if ent != nil && ent.Name != "" {
		name = ent.Name
	}
	if ent == nil || ent.Deleted() {
		// A tombstone's name is its URN's last element; the event has
		// the name the asset had (a resolved violation's "policy: subject").
		if d, err := e.AssetData(); err == nil && d.Name != "" && (e.Type.Family("asset") || e.Type.Family("policy.violation")) {
			name = d.Name
		}
	}
	subject := slackEscape(name)
	if link != "" {
		subject = "<" + slackEscape(strings.ReplaceAll(link, "|", "%7C")) + "|" + slackEscape(name) + ">"
	}
	headline := fmt.Sprintf("%s %s", slackEscape(humanType(e.Type)), subject)
	if e.Subject == "" {
		headline = slackEscape(humanType(e.Type))
	}
	var details []string
	switch {
	case e.Type.Family("classification"):
		if d, err := e.ClassificationData(); err == nil {
			details = append(details, "Classification: *"+slackEscape(d.Classification)+"*")
			if d.Origin != "" {
				details = append(details, "From: `"+slackEscape(string(d.Origin))+"`")
			}
		}
	case e.Type.Family("policy"):
		props := catalog.Properties(nil)
		if d, err := e.AssetData(); err == nil {
			props = d.Properties // the violation as of this event
		}
		if props == nil && ent != nil {
			props = ent.Properties
		}
		for _, k := range []string{"policy", "severity", "subject", "message"} {
			if v, ok := props[k]; ok {
				details = append(details, strings.ToUpper(k[:1])+k[1:]+": "+slackEscape(fmt.Sprint(v)))
			}
		}
	case e.Type == catalog.WebhookEndpointDisabled:
		var d disabledData
		if json.Unmarshal(e.Data, &d) == nil {
			details = append(details, "Webhook *"+slackEscape(d.Name)+"*: "+slackEscape(d.Reason))
		}
	}
	if e.Subject != "" {
		details = append(details, "`"+slackEscape(string(e.Subject))+"`")
	}
	blocks := []map[string]any{
		{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*" + headline + "*"}},
	}
	if len(details) > 0 {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Join(details, "\n")}})
	}
	ctx := fmt.Sprintf("Watershed · change %d · %s", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
	if e.Actor != "" {
		ctx += " · " + slackEscape(e.Actor)
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []map[string]any{{"type": "mrkdwn", "text": ctx}}})
	return map[string]any{"text": humanType(e.Type) + " " + name, "blocks": blocks}
}

// humanType turns "policy.violation.opened" into "Policy violation opened".
func humanType(t catalog.ChangeType) string {
	s := strings.ReplaceAll(string(t), ".", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
