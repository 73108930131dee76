package corerelo

import "strings"

// Kind is the kind of a CO-RE relocation, named as in libbpf's
// enum bpf_core_relo_kind (BPF_CORE_FIELD_BYTE_OFFSET is "field_byte_offset").
type Kind string

// The relocation kinds clang emits.
const (
	FieldByteOffset Kind = "field_byte_offset"
	FieldByteSize   Kind = "field_byte_size"
	FieldExists     Kind = "field_exists"
	FieldSigned     Kind = "field_signed"
	FieldLShiftU64  Kind = "field_lshift_u64"
	FieldRShiftU64  Kind = "field_rshift_u64"
	TypeIDLocal     Kind = "local_type_id"
	TypeIDTarget    Kind = "target_type_id"
	TypeExists      Kind = "type_exists"
	TypeMatches     Kind = "type_matches"
	TypeSize        Kind = "type_size"
	EnumvalExists   Kind = "enumval_exists"
	EnumvalValue    Kind = "enumval_value"
)

// ciliumKinds maps the short names cilium/ebpf prints for relocation kinds to
// Kind.
var ciliumKinds = map[string]Kind{
	"byte_off":       FieldByteOffset,
	"byte_sz":        FieldByteSize,
	"field_exists":   FieldExists,
	"signed":         FieldSigned,
	"lshift_u64":     FieldLShiftU64,
	"rshift_u64":     FieldRShiftU64,
	"local_type_id":  TypeIDLocal,
	"target_type_id": TypeIDTarget,
	"type_exists":    TypeExists,
	"type_matches":   TypeMatches,
	"type_size":      TypeSize,
	"enumval_exists": EnumvalExists,
	"enumval_value":  EnumvalValue,
}

// IsExistence reports whether the relocation's value is a 1/0 answer to "does
// the target kernel have this" rather than an offset or a size. Such
// relocations are never poisoned: a missing target yields 0.
func (k Kind) IsExistence() bool {
	return k == FieldExists || k == TypeExists || k == TypeMatches || k == EnumvalExists
}

// IsField reports whether the relocation is about a struct or union member
// (its accessor walks members) rather than a whole type or an enum value.
func (k Kind) IsField() bool { return strings.HasPrefix(string(k), "field_") }

// IsEnumval reports whether the relocation's accessor names an enum value.
func (k Kind) IsEnumval() bool { return strings.HasPrefix(string(k), "enumval_") }
