package core

// Column names a searchable column of the index. The store maps each to
// its own SQL column; ColField means a declaration field row.
type Column string

// Searchable columns.
const (
	ColID                   Column = "id"
	ColTrackingID           Column = "trackingId"
	ColType                 Column = "eventType"
	ColStatus               Column = "status"
	ColCreatedAt            Column = "createdAt"
	ColUpdatedAt            Column = "updatedAt"
	ColRegistrationNumber   Column = "registrationNumber"
	ColRegisteredAt         Column = "registeredAt"
	ColCreatedAtLocation    Column = "createdAtLocation"
	ColUpdatedAtLocation    Column = "updatedAtLocation"
	ColDeclaredAtLocation   Column = "declaredAtLocation"
	ColRegisteredAtLocation Column = "registeredAtLocation"
	ColAssignedTo           Column = "assignedTo"
	ColCreatedBy            Column = "createdBy"
	ColUpdatedBy            Column = "updatedBy"
	ColCreatedByUserType    Column = "createdByUserType"
	ColDateOfEvent          Column = "dateOfEvent"
	ColPlaceOfEvent         Column = "placeOfEvent" // see PlaceOfEvent
	ColDeclaredBy           Column = "declaredBy"   // who declared (legalStatuses.DECLARED.createdBy)
	ColRegisteredBy         Column = "registeredBy" // who registered
	ColFlag                 Column = "flag"
	ColField                Column = "field"
)

// Op is a comparison in a compiled search condition.
type Op string

// Comparison operators.
const (
	OpIn     Op = "in"     // column value is one of Values (exact is In with one value)
	OpNotIn  Op = "notIn"  // for flags: the event has none of Values
	OpAllOf  Op = "allOf"  // for flags: the event has every one of Values
	OpRange  Op = "range"  // Lo <= value <= Hi (either may be empty / nil)
	OpPrefix Op = "prefix" // for token fields: a token starts with Values[0]
)

// Cond is one compiled condition. Values are already normalised by core
// (lower-cased text, YYYY-MM-DD dates, RFC 3339 UTC timestamps for the time
// columns, location subtrees expanded into explicit id lists).
type Cond struct {
	Column  Column
	FieldID string    // for ColField
	Kind    ValueKind // for ColField: which value column
	Op      Op
	Values  []string  // for In/NotIn/AllOf/Prefix on text columns
	Nums    []float64 // for In on num fields
	Lo, Hi  string    // for Range on text/date/time columns ("" = open)
	NumLo   *float64  // for Range on num fields
	NumHi   *float64
}

// Filter is a compiled boolean tree: either a group (Op "and"/"or" over
// Children) or a leaf (Cond != nil).
type Filter struct {
	Op       string
	Children []Filter
	Cond     *Cond
}

// SortKey orders search results.
type SortKey struct {
	Column Column // one of ColCreatedAt, ColUpdatedAt, ColTrackingID, ColDateOfEvent, ColRegisteredAt, ColStatus, ColType
	Desc   bool
}

// SearchFilter is a compiled, validated search: what the store executes.
// Limit <= 0 means no limit. Ties are broken by event id in the direction
// of the last sort key. An empty "or" group matches nothing; an empty
// "and" group matches everything.
type SearchFilter struct {
	Where  Filter
	Sort   []SortKey // empty = createdAt descending
	Limit  int
	Offset int
}
