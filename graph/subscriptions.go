package graph

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// subscriptionLimiter caps the live subscriptions of each websocket
// connection and of the whole handler. Each one holds a goroutine and a
// change-log follower (~15 KiB); without a cap one connection could open
// any number of them.
//
// It is a gqlgen extension in two halves: MutateOperationContext (which
// runs while gqlgen creates the operation, so a refusal reaches the client
// as a graphql-transport-ws `error` message) takes a slot, and
// InterceptOperation (which runs in the subscription's own context) gives
// the slot back when that context ends. It must be the last operation
// context mutator registered, so that nothing can refuse an operation
// after it took a slot.
type subscriptionLimiter struct {
	perConn, total int64
	live           *atomic.Int64
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.OperationInterceptor
} = subscriptionLimiter{}

func newSubscriptionLimiter(perConn, total int) subscriptionLimiter {
	return subscriptionLimiter{perConn: int64(perConn), total: int64(total), live: new(atomic.Int64)}
}

// connSubscriptions is one websocket connection's share of the limiter.
type connSubscriptions struct {
	mu   sync.Mutex
	live int64
	// taken holds operations that took a slot and have not started yet.
	taken map[*graphql.OperationContext]bool
}

type connSubscriptionsKey struct{}

// withConnSubscriptions gives a websocket connection's context its counter.
func withConnSubscriptions(ctx context.Context) context.Context {
	return context.WithValue(ctx, connSubscriptionsKey{}, &connSubscriptions{taken: map[*graphql.OperationContext]bool{}})
}

func (subscriptionLimiter) ExtensionName() string                          { return "SubscriptionLimit" }
func (subscriptionLimiter) Validate(schema graphql.ExecutableSchema) error { return nil }

// MutateOperationContext takes a slot for a websocket subscription.
func (l subscriptionLimiter) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	cs, _ := ctx.Value(connSubscriptionsKey{}).(*connSubscriptions)
	if cs == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.live >= l.perConn {
		return codedError(codeSubscriptionCap, "this connection already holds %d subscriptions, the limit per connection; complete one before starting another", l.perConn)
	}
	if l.live.Add(1) > l.total {
		l.live.Add(-1)
		return codedError(codeSubscriptionCap, "the server already holds %d subscriptions, its limit; try again later", l.total)
	}
	cs.live++
	cs.taken[oc] = true
	return nil
}

// InterceptOperation returns the slot when the subscription's context ends
// (the client completed it, the stream ended, or the connection closed).
func (l subscriptionLimiter) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	cs, _ := ctx.Value(connSubscriptionsKey{}).(*connSubscriptions)
	if cs != nil && graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		cs.mu.Lock()
		took := cs.taken[oc]
		delete(cs.taken, oc)
		cs.mu.Unlock()
		if took {
			context.AfterFunc(ctx, func() {
				cs.mu.Lock()
				cs.live--
				cs.mu.Unlock()
				l.live.Add(-1)
			})
		}
	}
	return next(ctx)
}
