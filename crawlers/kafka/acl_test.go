package kafka

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/watershed-data/watershed/catalog"
)

func scramAdmin(t *testing.T, c *kfake.Cluster, user, pass string) *kadm.Client {
	return newAdmin(t, c, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
}

// TestCrawlACLs checks CAN_READ and CAN_WRITE edges against a kfake cluster
// that enforces ACLs: literal, prefixed and wildcard resources, ALL, deny
// subtracting (per principal and for User:*), and host-limited ACLs.
func TestCrawlACLs(t *testing.T) {
	c := newCluster(t,
		kfake.NumBrokers(1),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser(MechanismScramSHA256, "admin", "admin-secret"),
	)
	adm := scramAdmin(t, c, "admin", "admin-secret")
	createTopic(t, adm, 1, 1, nil, "orders", "payments", "payouts", "secrets", "audit-log")

	lit, pre := kadm.ACLPatternLiteral, kadm.ACLPatternPrefixed
	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:alice").Topics("orders").ResourcePatternType(lit).Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:bob").Topics("pay").ResourcePatternType(pre).Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:carol").Topics("*").ResourcePatternType(lit).Operations(kadm.OpAll),
		kadm.NewACLs().Deny("User:carol").Topics("secrets").ResourcePatternType(lit).Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:dave").Topics("orders").ResourcePatternType(lit).Operations(kadm.OpWrite),
		kadm.NewACLs().Allow("User:erin").AllowHosts("10.0.0.1").Topics("orders").ResourcePatternType(lit).Operations(kadm.OpRead),
		kadm.NewACLs().Deny("User:erin").DenyHosts("10.0.0.2").Topics("orders").ResourcePatternType(lit).Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:frank").Topics("audit").ResourcePatternType(pre).Operations(kadm.OpRead, kadm.OpWrite),
		kadm.NewACLs().Deny("User:*").Topics("audit-log").ResourcePatternType(lit).Operations(kadm.OpAll),
		kadm.NewACLs().Allow("User:grace").Topics("orders").ResourcePatternType(lit).Operations(kadm.OpDescribe),
		kadm.NewACLs().Allow("User:heidi").Groups("billing").ResourcePatternType(lit).Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:CN=ivan,OU=data eng").Topics("payments").ResourcePatternType(lit).Operations(kadm.OpRead),
	} {
		res, err := adm.CreateACLs(testCtx(t), b)
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			t.Fatalf("create ACLs: %v", err)
		}
	}

	cfg := configFor(c)
	cfg.SASL = SASLConfig{Mechanism: MechanismScramSHA256, Username: "admin", Password: "admin-secret"}
	s := crawl(t, cfg)
	if len(s.Incomplete) != 0 {
		t.Fatalf("incomplete %v", s.Incomplete)
	}

	pr := func(p string) string { return string(PrincipalURN(testSource, p)) }
	tp := func(n string) string { return string(topicURN(n)) }
	for _, tc := range []struct {
		kind catalog.EdgeKind
		want []string
	}{
		{catalog.EdgeCanRead, []string{
			tp("orders") + " -> " + pr("User:alice"),
			tp("orders") + " -> " + pr("User:carol"),
			tp("orders") + " -> " + pr("User:erin"),
			tp("payments") + " -> " + pr("User:CN=ivan,OU=data eng"),
			tp("payments") + " -> " + pr("User:bob"),
			tp("payments") + " -> " + pr("User:carol"),
			tp("payouts") + " -> " + pr("User:bob"),
			tp("payouts") + " -> " + pr("User:carol"),
		}},
		{catalog.EdgeCanWrite, []string{
			pr("User:carol") + " -> " + tp("orders"),
			pr("User:carol") + " -> " + tp("payments"),
			pr("User:carol") + " -> " + tp("payouts"),
			pr("User:carol") + " -> " + tp("secrets"),
			pr("User:dave") + " -> " + tp("orders"),
		}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if got := linkSet(s, tc.kind); !slices.Equal(got, want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			for _, l := range s.Links {
				if l.Kind == tc.kind && (l.Origin != OriginACL || l.Confidence != 1 || l.Scope != ScopeACLs) {
					t.Errorf("link %s: origin %q confidence %v scope %q", l.Key(), l.Origin, l.Confidence, l.Scope)
				}
			}
		})
	}

	t.Run("principals", func(t *testing.T) {
		var want []string
		for _, p := range []string{"User:*", "User:CN=ivan,OU=data eng", "User:alice", "User:bob", "User:carol", "User:dave", "User:erin", "User:frank", "User:grace", "User:heidi"} {
			want = append(want, pr(p))
		}
		slices.Sort(want)
		if got := assetURNs(s, catalog.KindPrincipal); !slices.Equal(got, want) {
			t.Errorf("principals %v; want %v", got, want)
		}
		if !strings.Contains(pr("User:CN=ivan,OU=data eng"), "data%20eng") {
			t.Errorf("space not escaped: %s", pr("User:CN=ivan,OU=data eng"))
		}
		carol := mustAsset(t, s, PrincipalURN(testSource, "User:carol"))
		var p struct {
			Type string `json:"principalType"`
			Name string `json:"name"`
			ACLs []struct {
				ResourceType, PatternType, Resource, Operation, Permission, Host string
			} `json:"acls"`
		}
		decode(t, carol.Properties, &p)
		if p.Type != "User" || p.Name != "carol" || len(p.ACLs) != 2 || carol.Scope != ScopeACLs || carol.Name != "User:carol" {
			t.Errorf("carol %+v scope %q", p, carol.Scope)
		}
	})
}

// TestCrawlACLsIncomplete: when ACLs cannot be described, the "acls" scope
// is incomplete and the rest of the crawl stands.
func TestCrawlACLsIncomplete(t *testing.T) {
	t.Run("authorizer disabled", func(t *testing.T) {
		c := newCluster(t, kfake.NumBrokers(1))
		createTopic(t, newAdmin(t, c), 1, 1, nil, "orders")
		// Real brokers without an authorizer answer SECURITY_DISABLED;
		// kfake answers with its (empty) ACL table, so inject the answer.
		c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeACLs}, TopLevel: true, Err: kerr.SecurityDisabled, Count: -1})
		s := crawl(t, configFor(c))
		if r := s.Incomplete[ScopeACLs]; !strings.Contains(r, "SECURITY_DISABLED") || len(s.Incomplete) != 1 {
			t.Errorf("incomplete %v", s.Incomplete)
		}
		mustAsset(t, s, topicURN("orders"))
		if got := assetURNs(s, catalog.KindPrincipal); len(got) != 0 {
			t.Errorf("principals %v", got)
		}
	})

	t.Run("least-privileged crawler", func(t *testing.T) {
		describe := func(rt kmsg.ACLResourceType, op kmsg.ACLOperation) kfake.ACL {
			return kfake.ACL{Resource: rt, Name: "*", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
		}
		// May describe topics, their configs and groups, but not the
		// cluster, so not its ACLs.
		c := newCluster(t,
			kfake.NumBrokers(1),
			kfake.EnableSASL(),
			kfake.EnableACLs(),
			kfake.Superuser(MechanismScramSHA256, "admin", "admin-secret"),
			kfake.User(MechanismScramSHA512, "crawler", "crawler-secret",
				describe(kmsg.ACLResourceTypeTopic, kmsg.ACLOperationDescribe),
				describe(kmsg.ACLResourceTypeTopic, kmsg.ACLOperationDescribeConfigs),
				describe(kmsg.ACLResourceTypeGroup, kmsg.ACLOperationDescribe),
			),
		)
		adm := scramAdmin(t, c, "admin", "admin-secret")
		createTopic(t, adm, 1, 1, nil, "orders")
		commit(t, adm, "billing", map[string]map[int32]int64{"orders": {0: 0}})

		cfg := configFor(c)
		cfg.SASL = SASLConfig{Mechanism: MechanismScramSHA512, Username: "crawler", Password: "crawler-secret"}
		s := crawl(t, cfg)
		if r := s.Incomplete[ScopeACLs]; !strings.Contains(r, "CLUSTER_AUTHORIZATION_FAILED") {
			t.Errorf("acls scope: %q", r)
		}
		// Real brokers also refuse DescribeCluster here (kfake does not
		// check it); TestCrawlPartialFailures covers that path.
		if len(s.Incomplete) != 1 {
			t.Errorf("incomplete %v", s.Incomplete)
		}
		mustAsset(t, s, topicURN("orders"))
		mustAsset(t, s, groupURN("billing"))
		mustAsset(t, s, BrokerURN(testSource, 0))
		if _, ok := findLink(s, topicURN("orders"), catalog.EdgeConsumes, groupURN("billing")); !ok {
			t.Errorf("no orders CONSUMES billing")
		}
	})
}
