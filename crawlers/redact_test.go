package crawlers

import (
	"strings"
	"testing"
)

// TestSecretKey: keys of real connector configs of every class the connect
// crawler knows, and of the worker and client settings they embed.
func TestSecretKey(t *testing.T) {
	secret := []string{
		// Debezium, JDBC
		"database.password", "database.sslpassword", "database.ssl.truststore.password", "database.ssl.keystore.password",
		"connection.password", "mongodb.password", "schema.history.internal.producer.sasl.jaas.config",
		"ssl.key.password", "ssl.keystore.key", "ssl.keystore.password",
		// Snowflake, BigQuery, S3, GCS, Azure
		"snowflake.private.key", "snowflake.private.key.passphrase", "snowflake.oauth.client.secret",
		"keyfile", "gcs.credentials.json", "gcs.credentials.path", "aws.secret.access.key", "azblob.account.key", "azure.sas.token",
		// Elasticsearch, HTTP, ClickHouse, Iceberg, Confluent Cloud
		"connection.oauth2.client.secret", "http.auth.token", "bearer.token", "auth.password", "password",
		"iceberg.catalog.credential", "iceberg.catalog.token", "iceberg.catalog.s3.secret-access-key",
		"kafka.api.key", "kafka.api.secret", "value.converter.basic.auth.user.info", "api-token", "hmac.secret",
	}
	visible := []string{
		"database.user", "connection.user", "key.converter", "key.converter.schema.registry.url",
		"table.field.event.key", "aws.access.key.id", "transforms.unwrap.type", "pk.fields", "topic.prefix",
		"key.ignore", "oauth2.token.url", "connection.oauth2.token.endpoint", "kafka.auth.mode", "ssl.keystore.location",
		"ssl.keystore.type", "ssl.truststore.certificates", "tasks.max",
	}
	for _, k := range secret {
		if !SecretKey(k) {
			t.Errorf("%s should be secret", k)
		}
	}
	for _, k := range visible {
		if SecretKey(k) {
			t.Errorf("%s should be visible", k)
		}
	}
}

// TestRedactText: credentials hidden by their shape, whatever key or
// message holds them; placeholders and prose are kept.
func TestRedactText(t *testing.T) {
	const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
	const cert = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQsw\n-----END CERTIFICATE-----"
	for in, want := range map[string]string{
		"jdbc:postgresql://h/db?user=u&password=p&ssl=true":                                                    "jdbc:postgresql://h/db?user=u&password=[redacted]&ssl=true",
		"jdbc:mysql://foo:datahub@test_mysql:3306/librarydb":                                                   "jdbc:mysql://foo:[redacted]@test_mysql:3306/librarydb",
		"mongodb://u:p@h:27017/?replicaSet=rs0":                                                                "mongodb://u:[redacted]@h:27017/?replicaSet=rs0",
		"mongodb://app:p@ss@w0rd@mongo-0:27017,mongo-1/?authSource=x":                                          "mongodb://app:[redacted]@mongo-0:27017,mongo-1/?authSource=x",
		"mongodb+srv://watcher:s3cr%40t@cluster0.abcde.mongodb.net/":                                           "mongodb+srv://watcher:[redacted]@cluster0.abcde.mongodb.net/",
		"jdbc:oracle:thin:scott/tiger@//db:1521/ORCLPDB1":                                                      "jdbc:oracle:thin:scott/[redacted]@//db:1521/ORCLPDB1",
		`jdbc:oracle:thin:scott/"p@ss/word"@db:1521:ORCL`:                                                      "jdbc:oracle:thin:scott/[redacted]@db:1521:ORCL",
		"jdbc:sqlserver://h:1433;databaseName=x;user=sa;password=Pa55!":                                        "jdbc:sqlserver://h:1433;databaseName=x;user=sa;password=[redacted]",
		"jdbc:sqlserver://h;password={pa;ss};encrypt=true":                                                     "jdbc:sqlserver://h;password=[redacted];encrypt=true",
		"jdbc:mysql://(host=h,port=1,user=sandy,password=secret)/db":                                           "jdbc:mysql://(host=h,port=1,user=sandy,password=[redacted])/db",
		"https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=abc%2B":                                        "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=[redacted]",
		"https://b.s3.amazonaws.com/k?X-Amz-Signature=deadbeef&x=1":                                            "https://b.s3.amazonaws.com/k?X-Amz-Signature=[redacted]&x=1",
		"Authorization:Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA|Content-Type:application/json":                    "Authorization:Bearer [redacted]|Content-Type:application/json",
		"authorization: Basic dXNlcjpwYXNzd29yZA==":                                                            "authorization: Basic [redacted]",
		"X-Custom: 1, Proxy-Authorization=Token abc123def":                                                     "X-Custom: 1, Proxy-Authorization=Token [redacted]",
		"retrying with Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig":                                                    "retrying with Bearer [redacted]",
		"org.postgresql.util.PSQLException: connect jdbc:postgresql://db/app?user=app&password=hunter2 failed": "org.postgresql.util.PSQLException: connect jdbc:postgresql://db/app?user=app&password=[redacted] failed",
		"key " + pem + " end": "key [redacted] end",
		cert:                  cert,
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\nabc": "[redacted]",
		// kept: placeholders, prose, URLs without credentials
		"jdbc:sqlserver://h;password=${env:PW};db=x":           "jdbc:sqlserver://h;password=${env:PW};db=x",
		"Authorization: ${file:/secrets/http.properties:auth}": "Authorization: ${file:/secrets/http.properties:auth}",
		"http://plain:8083/connectors":                         "http://plain:8083/connectors",
		"Basic authentication failed; bearer authentication":   "Basic authentication failed; bearer authentication",
		"": "",
	} {
		if got := RedactText(in); got != want {
			t.Errorf("RedactText(%q)\n got %q\nwant %q", in, got, want)
		}
	}
	if got := RedactConfigValue("database.password", "${file:/secrets.properties:password}"); got != "${file:/secrets.properties:password}" {
		t.Errorf("placeholder of a secret key = %q", got)
	}
	if got := RedactConfigValue("database.password", "hunter2"); got != Redacted {
		t.Errorf("secret key = %q", got)
	}
	if got := RedactConfigValue("ssl.truststore.certificates", cert); !strings.Contains(got, "BEGIN CERTIFICATE") {
		t.Errorf("certificate hidden: %q", got)
	}
	if got := RedactConfigValue("ssl.truststore.certificates", pem); got != Redacted {
		t.Errorf("a private key under a visible key = %q", got)
	}
}
