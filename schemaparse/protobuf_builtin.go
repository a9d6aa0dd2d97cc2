package schemaparse

import "strings"

// Schema Registry lets a Protobuf schema import a few files without
// declaring them as references: the google/protobuf well-known types
// (protocompile supplies those), Confluent's own metadata and decimal types,
// and a handful of google/type messages. These are their definitions.

const confluentMetaProto = `syntax = "proto3";
package confluent;

import "google/protobuf/descriptor.proto";

option go_package = "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/confluent";
option java_package = "io.confluent.protobuf";
option java_outer_classname = "MetaProto";

message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}

extend google.protobuf.FileOptions {
  Meta file_meta = 1088;
}
extend google.protobuf.MessageOptions {
  Meta message_meta = 1088;
}
extend google.protobuf.FieldOptions {
  Meta field_meta = 1088;
}
extend google.protobuf.EnumOptions {
  Meta enum_meta = 1088;
}
extend google.protobuf.EnumValueOptions {
  Meta enum_value_meta = 1088;
}
`

const confluentDecimalProto = `syntax = "proto3";
package confluent.type;

option go_package = "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/confluent/types";

message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
`

const googleTypeDateProto = `syntax = "proto3";
package google.type;

message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
`

const googleTypeTimeOfDayProto = `syntax = "proto3";
package google.type;

message TimeOfDay {
  int32 hours = 1;
  int32 minutes = 2;
  int32 seconds = 3;
  int32 nanos = 4;
}
`

const googleTypeMoneyProto = `syntax = "proto3";
package google.type;

message Money {
  string currency_code = 1;
  int64 units = 2;
  int32 nanos = 3;
}
`

const googleTypeLatLngProto = `syntax = "proto3";
package google.type;

message LatLng {
  double latitude = 1;
  double longitude = 2;
}
`

const googleTypeDayOfWeekProto = `syntax = "proto3";
package google.type;

enum DayOfWeek {
  DAY_OF_WEEK_UNSPECIFIED = 0;
  MONDAY = 1;
  TUESDAY = 2;
  WEDNESDAY = 3;
  THURSDAY = 4;
  FRIDAY = 5;
  SATURDAY = 6;
  SUNDAY = 7;
}
`

// builtinProtoSources returns a fresh map of the files a schema may import
// without a reference (the google/protobuf ones come from protocompile).
func builtinProtoSources() map[string]string {
	return map[string]string{
		"confluent/meta.proto":         confluentMetaProto,
		"confluent/type/decimal.proto": confluentDecimalProto,
		"google/type/date.proto":       googleTypeDateProto,
		"google/type/timeofday.proto":  googleTypeTimeOfDayProto,
		"google/type/money.proto":      googleTypeMoneyProto,
		"google/type/latlng.proto":     googleTypeLatLngProto,
		"google/type/dayofweek.proto":  googleTypeDayOfWeekProto,
	}
}

// isProtoValueType reports whether a message is a value type (a timestamp,
// a decimal, a wrapper) whose fields are not listed: a field of that type is
// a leaf.
func isProtoValueType(fullName string) bool {
	for _, pkg := range []string{"google.protobuf.", "google.type.", "confluent.type."} {
		if strings.HasPrefix(fullName, pkg) {
			return true
		}
	}
	return false
}
