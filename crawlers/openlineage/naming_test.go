package openlineage

import (
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

func TestResolveDataset(t *testing.T) {
	cases := []struct {
		ns, name string
		urn      catalog.URN
		field    string // fieldURN("f.g") when set
	}{
		{"kafka://Kafka.Prod.Example.com:9093", "orders", "urn:topic:prod/orders", "urn:field:prod/orders/value/f.g"},
		{"kafka://broker-9:9092,kafka-2.prod.internal:9093", "payments", "urn:topic:prod/payments", ""},
		{"kafka://broker-9:9092", "orders", "urn:dataset:kafka://broker-9:9092/orders", "urn:field:kafka://broker-9:9092/orders/value/f.g"},
		{"postgresql://Inventory-DB:5432", "inventory.public.customers", "urn:table:postgres://inventory-db:5432/inventory.public.customers", "urn:column:postgres://inventory-db:5432/inventory.public.customers/f.g"},
		{"postgres://db", "shop.public.orders", "urn:table:postgres://db:5432/shop.public.orders", ""},
		{"mssql://SQL-1:1433", "testDB.dbo.customers", "urn:table:sqlserver://sql-1:1433/testDB.dbo.customers", ""},
		{"sqlserver://sql-1", "testDB.dbo.customers", "urn:table:sqlserver://sql-1:1433/testDB.dbo.customers", ""},
		{"mariadb://maria:3306", "inventory.customers", "urn:table:mysql://maria:3306/inventory.customers", ""},
		{"mysql://user@mysql", "inventory.customers", "urn:table:mysql://mysql:3306/inventory.customers", ""},
		{"oracle://ORA:1521", "ORCLPDB1.DEBEZIUM.CUSTOMERS", "urn:table:oracle://ora:1521/ORCLPDB1.DEBEZIUM.CUSTOMERS", ""},
		{"snowflake://MyOrg-MyAccount.snowflakecomputing.com", "MYDB.MYSCHEMA.ORDERS", "urn:table:snowflake://myorg-myaccount/MYDB.MYSCHEMA.ORDERS", ""},
		{"bigquery", "my-project.kcbq.orders", "urn:table:bigquery/my-project.kcbq.orders", ""},
		{"s3a://lake", "/topics/orders", "urn:dataset:s3://lake/topics/orders", "urn:field:s3://lake/topics/orders/f.g"},
		{"gs://lake/", "topics/orders", "urn:dataset:gs://lake/topics/orders", ""},
		{"hdfs://NN:9000", "/topics/orders", "urn:dataset:hdfs://nn:9000/topics/orders", ""},
		{"my-datasource-namespace", "instance.schema.table", "urn:dataset:my-datasource-namespace/instance.schema.table", ""},
		{"bigquery://", "my-project.kcbq.orders", "urn:table:bigquery/my-project.kcbq.orders", ""},
		// The Naming spec's paths: s3 and gs names are object keys (no
		// leading '/'), hdfs, file and dbfs names absolute paths; either way
		// the URN is the location, with one '/' between its parts.
		{"s3://lake", "topics/orders", "urn:dataset:s3://lake/topics/orders", ""},
		{"s3://lake", "/topics/orders/", "urn:dataset:s3://lake/topics/orders", ""},
		{"s3://lake/warehouse", "default.table", "urn:dataset:s3://lake/warehouse/default.table", ""},
		{"s3://lake", "/", "urn:dataset:s3://lake", ""},
		{"gs://lake", "/topics/orders", "urn:dataset:gs://lake/topics/orders", ""},
		{"hdfs://nn:8020", "/warehouse/location/", "urn:dataset:hdfs://nn:8020/warehouse/location", ""},
		{"hdfs://nn:8020", "warehouse/location", "urn:dataset:hdfs://nn:8020/warehouse/location", ""},
		{"hdfs://nn:8020/warehouse", "default.table", "urn:dataset:hdfs://nn:8020/warehouse/default.table", "urn:field:hdfs://nn:8020/warehouse/default.table/f.g"},
		{"file", "/tmp/my data.csv", "urn:dataset:file:///tmp/my%20data.csv", "urn:field:file:///tmp/my%20data.csv/f.g"},
		{"file", "warehouse/location", "urn:dataset:file:///warehouse/location", ""},
		{"file:/tmp/iceberg", "default.v2_source_1", "urn:dataset:file:///tmp/iceberg/default.v2_source_1", ""},
		{"file://fileserver", "/share/data.csv", "urn:dataset:file://fileserver/share/data.csv", ""},
		{"dbfs", "/warehouse/location", "urn:dataset:dbfs:///warehouse/location", ""},
		{"dbfs:/warehouse/location", "default.table", "urn:dataset:dbfs:///warehouse/location/default.table", ""},
		{"dbfs://my-workspace", "/mnt/raw/events", "urn:dataset:dbfs://my-workspace/mnt/raw/events", ""},
		// Other scheme:// namespaces keep their "//" and get exactly one '/'.
		{"inmemory://", "df_1", "urn:dataset:inmemory:///df_1", ""},
		{"inmemory://", "/df_1", "urn:dataset:inmemory:///df_1", ""},
		{"azurekusto://adx.kusto.windows.net/", "db/table", "urn:dataset:azurekusto://adx.kusto.windows.net/db/table", ""},
		{"pubsub", "topic:proj:events", "urn:dataset:pubsub/topic:proj:events", ""},
		// Empty names are allowed by the spec.
		{"my-namespace", "", "urn:dataset:my-namespace/", "urn:field:my-namespace//f.g"},
		{"", "orphan", "urn:dataset:/orphan", ""},
	}
	for _, c := range cases {
		ref := resolveDataset(c.ns, c.name, clusterAliases)
		if ref.URN != c.urn {
			t.Errorf("resolve(%q, %q) = %s, want %s", c.ns, c.name, ref.URN, c.urn)
		}
		if err := ref.URN.Validate(); err != nil {
			t.Errorf("%s: %v", ref.URN, err)
		}
		if c.field != "" && ref.fieldURN("f.g") != catalog.URN(c.field) {
			t.Errorf("field of %s = %s, want %s", ref.URN, ref.fieldURN("f.g"), c.field)
		}
	}
	// A '/' in a dataset's field path cannot be confused with the dataset.
	if got := resolveDataset("s3://b", "a", nil).fieldURN("x/y"); got != "urn:field:s3://b/a/x%2Fy" {
		t.Errorf("field with slash = %s", got)
	}
}
