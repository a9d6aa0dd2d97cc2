package graph

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/graph/model"
	"github.com/watershed-data/watershed/webhooks"
)

// WebhookService manages webhook subscriptions (webhooks.Service).
type WebhookService interface {
	Create(ctx context.Context, in webhooks.EndpointInput) (webhooks.Endpoint, string, error)
	Update(ctx context.Context, id string, in webhooks.EndpointInput) (webhooks.Endpoint, error)
	Delete(ctx context.Context, id string) error
	RotateSecret(ctx context.Context, id string, overlap time.Duration) (string, error)
	Endpoints(ctx context.Context) []webhooks.Endpoint
	Endpoint(ctx context.Context, id string) (webhooks.Endpoint, error)
	Attempts(ctx context.Context, id string, limit int) ([]webhooks.Attempt, error)
	DeadLetters(ctx context.Context, id string, limit int) ([]webhooks.Delivery, error)
	Pending(ctx context.Context, id string) (int, error)
	ReplayDeadLetters(ctx context.Context, id string) (int, error)
}

// maxWebhookPage bounds attempts and dead letters in one answer.
const maxWebhookPage = 500

// webhooksFor returns the service for a caller with write access: webhook
// URLs carry secrets (Slack's incoming-webhook URLs are one), so even
// reading them needs a write token.
func (r *Resolver) webhooksFor(ctx context.Context) (WebhookService, error) {
	if _, err := requireWriter(ctx); err != nil {
		return nil, err
	}
	if r.Webhooks == nil {
		return nil, catalog.Errorf(catalog.Unavailable, "webhooks are not running in this process")
	}
	return r.Webhooks, nil
}

func filterFrom(in *model.WebhookFilterInput) *webhooks.Filter {
	if in == nil {
		return nil
	}
	f := &webhooks.Filter{
		Classification: strings.TrimSpace(stringOr(in.Classification, "")),
		URN:            stringOr(in.Urn, ""),
		Hops:           intOr(in.Hops, 0),
		OwnedBy:        strings.TrimSpace(stringOr(in.OwnedBy, "")),
	}
	if in.DownstreamOf != nil {
		f.DownstreamOf = *in.DownstreamOf
	}
	return f
}

func formatPtr(f *webhooks.Format) *webhooks.Format {
	if f == nil {
		return nil
	}
	v := *f
	return &v
}

func (r *Resolver) createWebhook(ctx context.Context, in model.CreateWebhookInput) (model.CreatedWebhook, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return model.CreatedWebhook{}, err
	}
	url := in.URL
	ep, secret, err := svc.Create(ctx, webhooks.EndpointInput{
		Name: in.Name, URL: &url, Description: in.Description, Types: in.Types,
		Filter: filterFrom(in.Filter), Format: formatPtr(in.Format), Enabled: in.Enabled,
	})
	if err != nil {
		return model.CreatedWebhook{}, err
	}
	return model.CreatedWebhook{Webhook: ep, Secret: secret}, nil
}

func (r *Resolver) updateWebhook(ctx context.Context, id string, in model.UpdateWebhookInput) (webhooks.Endpoint, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return webhooks.Endpoint{}, err
	}
	return svc.Update(ctx, id, webhooks.EndpointInput{
		Name: in.Name, URL: in.URL, Description: in.Description, Types: in.Types,
		Filter: filterFrom(in.Filter), Format: formatPtr(in.Format), Enabled: in.Enabled,
	})
}

func (r *Resolver) deleteWebhook(ctx context.Context, id string) (bool, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return false, err
	}
	if err := svc.Delete(ctx, id); err != nil {
		return false, err
	}
	return true, nil
}

func (r *Resolver) rotateWebhookSecret(ctx context.Context, id string, overlapSeconds int) (string, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return "", err
	}
	if overlapSeconds < 0 || time.Duration(overlapSeconds)*time.Second > webhooks.MaxOverlap {
		return "", catalog.Errorf(catalog.Invalid, "overlapSeconds must be between 0 and %d", int(webhooks.MaxOverlap/time.Second))
	}
	return svc.RotateSecret(ctx, id, time.Duration(overlapSeconds)*time.Second)
}

func (r *Resolver) replayDeadLetters(ctx context.Context, id string) (int, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return 0, err
	}
	return svc.ReplayDeadLetters(ctx, id)
}

func (r *Resolver) listWebhooks(ctx context.Context) ([]webhooks.Endpoint, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return nil, err
	}
	return svc.Endpoints(ctx), nil
}

func (r *Resolver) getWebhook(ctx context.Context, id string) (webhooks.Endpoint, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return webhooks.Endpoint{}, err
	}
	return svc.Endpoint(ctx, id)
}

func (r *Resolver) webhookPending(ctx context.Context, id string) (int, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return 0, err
	}
	return svc.Pending(ctx, id)
}

func pageSize(n int) (int, error) {
	if n < 0 || n > maxWebhookPage {
		return 0, catalog.Errorf(catalog.Invalid, "first must be between 0 and %d", maxWebhookPage)
	}
	return n, nil
}

func (r *Resolver) webhookAttempts(ctx context.Context, id string, first int) ([]webhooks.Attempt, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return nil, err
	}
	n, err := pageSize(first)
	if err != nil || n == 0 {
		return nil, err
	}
	return svc.Attempts(ctx, id, n)
}

func (r *Resolver) webhookDeadLetters(ctx context.Context, id string, first int) ([]webhooks.Delivery, error) {
	svc, err := r.webhooksFor(ctx)
	if err != nil {
		return nil, err
	}
	n, err := pageSize(first)
	if err != nil || n == 0 {
		return nil, err
	}
	return svc.DeadLetters(ctx, id, n)
}

func optInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func optURN(u catalog.URN) *catalog.URN {
	if u == "" {
		return nil
	}
	return &u
}

func seqString(seq uint64) string { return strconv.FormatUint(seq, 10) }
