package core

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // time zones on machines without a zoneinfo database
)

// FieldType is the value type of a form field.
type FieldType string

// Field value types. Each one has a validator in validate.go.
const (
	FieldText           FieldType = "TEXT"
	FieldTextArea       FieldType = "TEXTAREA"
	FieldEmail          FieldType = "EMAIL"
	FieldPhone          FieldType = "PHONE"
	FieldDate           FieldType = "DATE"
	FieldName           FieldType = "NAME"
	FieldSelect         FieldType = "SELECT"
	FieldRadio          FieldType = "RADIO_GROUP"
	FieldNumber         FieldType = "NUMBER"
	FieldNumberWithUnit FieldType = "NUMBER_WITH_UNIT"
	FieldAddress        FieldType = "ADDRESS"
	FieldFile           FieldType = "FILE"
	FieldBoolean        FieldType = "CHECKBOX"
	FieldID             FieldType = "ID"
	FieldLocation       FieldType = "LOCATION" // a location UUID from the location tree
)

// Condition is a simple rule on another field's value, used to make a
// field required only in some cases.
type Condition struct {
	Field   string   `json:"field"`
	Equals  any      `json:"equals,omitempty"`  // the field's JSON value equals this
	In      []string `json:"in,omitempty"`      // the field's string value is one of these
	NotTrue bool     `json:"notTrue,omitempty"` // the field is absent, null or not true
}

// FieldConfig describes one form field.
type FieldConfig struct {
	ID            string     `json:"id"`
	Type          FieldType  `json:"type"`
	Label         string     `json:"label,omitempty"`
	Required      bool       `json:"required,omitempty"`
	RequiredIf    *Condition `json:"requiredIf,omitempty"`
	Options       []string   `json:"options,omitempty"`       // SELECT / RADIO_GROUP values
	Units         []string   `json:"units,omitempty"`         // NUMBER_WITH_UNIT units
	Pattern       string     `json:"pattern,omitempty"`       // TEXT / ID regular expression
	MaxLength     int        `json:"maxLength,omitempty"`     // TEXT; default 500
	Min           *float64   `json:"min,omitempty"`           // NUMBER
	Max           *float64   `json:"max,omitempty"`           // NUMBER
	NotInFuture   bool       `json:"notInFuture,omitempty"`   // DATE
	LocationTypes []string   `json:"locationTypes,omitempty"` // LOCATION
}

// EventConfig is one event type's form and metadata.
type EventConfig struct {
	ID           string        `json:"id"`
	Label        string        `json:"label"`
	DateOfEvent  string        `json:"dateOfEvent,omitempty"`  // field id holding the event date
	PlaceOfEvent string        `json:"placeOfEvent,omitempty"` // field id holding the event place
	Fields       []FieldConfig `json:"fields"`
	// SearchResultFields are the declaration fields a search result shows
	// to a caller whose record.read scopes do not reach the record (what a
	// result list shows: names, dates, places). Empty: the event type's
	// NAME, DATE and LOCATION fields. National identifiers and the rest of
	// the declaration need record.read.
	SearchResultFields []string `json:"searchResultFields,omitempty"`

	index        map[string]*FieldConfig
	resultFields map[string]bool
}

// IsSearchResultField reports whether a search result shows field id to
// a caller who may not read the record (see SearchResultFields).
func (e *EventConfig) IsSearchResultField(id string) bool {
	if e.resultFields == nil {
		e.buildResultFields()
	}
	return e.resultFields[id]
}

func (e *EventConfig) buildResultFields() {
	m := make(map[string]bool)
	if len(e.SearchResultFields) > 0 {
		for _, id := range e.SearchResultFields {
			m[id] = true
		}
	} else {
		for _, f := range e.Fields {
			switch f.Type {
			case FieldName, FieldDate, FieldLocation:
				m[f.ID] = true
			}
		}
	}
	e.resultFields = m
}

// Field returns the field config with this id, or nil.
func (e *EventConfig) Field(id string) *FieldConfig {
	if e.index == nil {
		e.buildIndex()
	}
	return e.index[id]
}

func (e *EventConfig) buildIndex() {
	e.index = make(map[string]*FieldConfig, len(e.Fields))
	for i := range e.Fields {
		e.index[e.Fields[i].ID] = &e.Fields[i]
	}
}

// Location types (OpenCRVS names).
const (
	LocationAdminStructure = "ADMIN_STRUCTURE"
	LocationCRVSOffice     = "CRVS_OFFICE"
	LocationHealthFacility = "HEALTH_FACILITY"
)

// Location is one node of the location tree.
type Location struct {
	ID                   string     `json:"id"`
	Name                 string     `json:"name"`
	Alias                string     `json:"alias,omitempty"`
	ExternalID           string     `json:"externalId,omitempty"`
	LocationType         string     `json:"locationType"`
	ParentID             string     `json:"parentId,omitempty"`
	AdministrativeAreaID string     `json:"administrativeAreaId,omitempty"`
	ValidUntil           *time.Time `json:"validUntil,omitempty"`
}

// Active reports whether the location is in use at time now.
func (l *Location) Active(now time.Time) bool {
	return l.ValidUntil == nil || now.Before(*l.ValidUntil)
}

// RegistrationNumberConfig configures the registration number generator.
type RegistrationNumberConfig struct {
	Prefix   string `json:"prefix,omitempty"`
	Length   int    `json:"length,omitempty"`   // random part; default 12
	Alphabet string `json:"alphabet,omitempty"` // default 0-9A-Z
}

// Settings are country-wide settings.
type Settings struct {
	CountryCode string `json:"countryCode"` // ISO 3166-1 alpha-3
	// TimeZone (IANA name) decides which calendar day "today" is, e.g. for
	// dates that may not lie in the future. Default UTC.
	TimeZone           string                   `json:"timeZone,omitempty"`
	RegistrationNumber RegistrationNumberConfig `json:"registrationNumber"`
	// NIDSystems and NIDTypes say which FHIR Identifiers carry this
	// country's national ID (mapped to *.nid, which the National ID
	// system is sent as the UIN): an identifier whose system is one of
	// NIDSystems, or one with no system whose type code is one of
	// NIDTypes. An identifier of any other system (a US SSN's
	// http://hl7.org/fhir/sid/us-ssn, another country's register) never
	// fills *.nid, whatever its type. NIDTypes empty means NATIONAL_ID,
	// NID, NI, NN<countryCode> and MOSIP_UIN.
	NIDSystems []string `json:"nidSystems,omitempty"`
	NIDTypes   []string `json:"nidTypes,omitempty"`
}

// CountryConfig is everything country-specific: event forms, locations and
// settings. Build one with NewCountryConfig so its indexes are ready.
type CountryConfig struct {
	Settings  Settings
	Events    []*EventConfig
	Locations []Location

	tz        *time.Location
	events    map[string]*EventConfig
	locations map[string]*Location
	children  map[string][]string
	byExtID   map[string]*Location
}

// NewCountryConfig checks a configuration and builds its indexes.
func NewCountryConfig(settings Settings, events []*EventConfig, locations []Location) (*CountryConfig, error) {
	c := &CountryConfig{Settings: settings, Events: events, Locations: locations,
		events: map[string]*EventConfig{}, locations: map[string]*Location{},
		children: map[string][]string{}, byExtID: map[string]*Location{}}
	c.tz = time.UTC
	if settings.TimeZone != "" {
		tz, err := time.LoadLocation(settings.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("settings: timeZone: %w", err)
		}
		c.tz = tz
	}
	if c.Settings.RegistrationNumber.Length == 0 {
		c.Settings.RegistrationNumber.Length = 12
	}
	if c.Settings.RegistrationNumber.Alphabet == "" {
		c.Settings.RegistrationNumber.Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	}
	for _, e := range events {
		if e.ID == "" {
			return nil, fmt.Errorf("event config without id")
		}
		if _, dup := c.events[e.ID]; dup {
			return nil, fmt.Errorf("event %q defined twice", e.ID)
		}
		seen := make(map[string]bool, len(e.Fields))
		for i, f := range e.Fields {
			// An empty id cannot be filled in by a declaration; a second
			// field with the same id would shadow the first in the index.
			if f.ID == "" {
				return nil, fmt.Errorf("event %q: field #%d (type %s): id is required", e.ID, i+1, f.Type)
			}
			if seen[f.ID] {
				return nil, fmt.Errorf("event %q: field %q is defined twice", e.ID, f.ID)
			}
			seen[f.ID] = true
		}
		e.buildIndex()
		for _, f := range e.Fields {
			if err := checkFieldConfig(e, f); err != nil {
				return nil, fmt.Errorf("event %q: field %q: %w", e.ID, f.ID, err)
			}
		}
		if err := checkEventFields(e); err != nil {
			return nil, fmt.Errorf("event %q: %w", e.ID, err)
		}
		c.events[e.ID] = e
	}
	extIDOwner := map[string]string{} // externalId -> id of the location that has it
	for i := range c.Locations {
		l := &c.Locations[i]
		if l.ID == "" || l.Name == "" {
			return nil, fmt.Errorf("location #%d: id and name are required", i)
		}
		if _, dup := c.locations[l.ID]; dup {
			return nil, fmt.Errorf("location %q defined twice", l.ID)
		}
		switch l.LocationType {
		case LocationAdminStructure, LocationCRVSOffice, LocationHealthFacility:
		default:
			return nil, fmt.Errorf("location %q: unknown locationType %q", l.ID, l.LocationType)
		}
		c.locations[l.ID] = l
		if l.ExternalID != "" {
			// FHIR bundles name places by external id: two locations
			// sharing one would make the lookup pick whichever came last.
			if other, dup := extIDOwner[l.ExternalID]; dup {
				return nil, fmt.Errorf("locations %q and %q share externalId %q", other, l.ID, l.ExternalID)
			}
			extIDOwner[l.ExternalID] = l.ID
			c.byExtID[l.ExternalID] = l
		}
	}
	for i := range c.Locations {
		l := &c.Locations[i]
		if l.ParentID != "" {
			p, ok := c.locations[l.ParentID]
			if !ok {
				return nil, fmt.Errorf("location %q: parent %q not found", l.ID, l.ParentID)
			}
			if p.LocationType != LocationAdminStructure {
				return nil, fmt.Errorf("location %q: parent %q is not an admin area", l.ID, l.ParentID)
			}
			c.children[l.ParentID] = append(c.children[l.ParentID], l.ID)
		}
		if l.LocationType != LocationAdminStructure {
			l.AdministrativeAreaID = l.ParentID
		}
	}
	// reject cycles
	for i := range c.Locations {
		seen := map[string]bool{}
		for id := c.Locations[i].ID; id != ""; id = c.locations[id].ParentID {
			if seen[id] {
				return nil, fmt.Errorf("location %q: parent cycle", c.Locations[i].ID)
			}
			seen[id] = true
		}
	}
	return c, nil
}

func checkFieldConfig(e *EventConfig, f FieldConfig) error {
	switch f.Type {
	case FieldText, FieldTextArea, FieldEmail, FieldPhone, FieldDate, FieldName,
		FieldNumber, FieldNumberWithUnit, FieldAddress, FieldFile, FieldBoolean, FieldID, FieldLocation:
	case FieldSelect, FieldRadio:
		if len(f.Options) == 0 {
			return fmt.Errorf("type %s needs options", f.Type)
		}
		// A repeated or empty value is a typo in the form: the value a
		// declaration sends could not tell the options apart.
		seen := make(map[string]bool, len(f.Options))
		for _, o := range f.Options {
			if o == "" {
				return fmt.Errorf("empty option value")
			}
			if seen[o] {
				return fmt.Errorf("option %q is listed twice", o)
			}
			seen[o] = true
		}
	default:
		return fmt.Errorf("unknown type %q", f.Type)
	}
	if f.RequiredIf != nil && e.index[f.RequiredIf.Field] == nil {
		return fmt.Errorf("requiredIf names unknown field %q", f.RequiredIf.Field)
	}
	if f.Pattern != "" {
		if _, err := compilePattern(f.Pattern); err != nil {
			return fmt.Errorf("bad pattern: %w", err)
		}
	}
	for _, t := range f.LocationTypes {
		switch t {
		case LocationAdminStructure, LocationCRVSOffice, LocationHealthFacility:
		default:
			return fmt.Errorf("locationTypes: unknown location type %q", t)
		}
	}
	return nil
}

// checkEventFields checks the fields an event names for its metadata.
// Both must exist and have a type the readers understand: the index reads
// dateOfEvent as a YYYY-MM-DD string, and PlaceOfEvent (access.go) reads
// placeOfEvent as a location UUID or a DOMESTIC address. A wrong name or
// type would not fail loudly: every record would silently get no date of
// event, and its place of event would fall back to the creation location,
// changing which jurisdiction scopes may see it.
func checkEventFields(e *EventConfig) error {
	if e.DateOfEvent != "" {
		f := e.Field(e.DateOfEvent)
		switch {
		case f == nil:
			return fmt.Errorf("dateOfEvent: field %q not found", e.DateOfEvent)
		case f.Type != FieldDate:
			return fmt.Errorf("dateOfEvent: field %q has type %s, want %s", e.DateOfEvent, f.Type, FieldDate)
		}
	}
	if e.PlaceOfEvent != "" {
		f := e.Field(e.PlaceOfEvent)
		switch {
		case f == nil:
			return fmt.Errorf("placeOfEvent: field %q not found", e.PlaceOfEvent)
		case f.Type != FieldLocation && f.Type != FieldAddress:
			return fmt.Errorf("placeOfEvent: field %q has type %s, want %s or %s", e.PlaceOfEvent, f.Type, FieldLocation, FieldAddress)
		}
	}
	// A misspelt search-result field would silently vanish from every
	// search result.
	seen := make(map[string]bool, len(e.SearchResultFields))
	for _, id := range e.SearchResultFields {
		if e.Field(id) == nil {
			return fmt.Errorf("searchResultFields: field %q not found", id)
		}
		if seen[id] {
			return fmt.Errorf("searchResultFields: field %q is listed twice", id)
		}
		seen[id] = true
	}
	e.buildResultFields()
	return nil
}

// Event returns the event config with this id, or nil.
func (c *CountryConfig) Event(id string) *EventConfig { return c.events[id] }

// EventIDs lists the configured event types in order.
func (c *CountryConfig) EventIDs() []string {
	out := make([]string, len(c.Events))
	for i, e := range c.Events {
		out[i] = e.ID
	}
	return out
}

// Location returns the location with this id, or nil.
func (c *CountryConfig) Location(id string) *Location { return c.locations[id] }

// LocationByExternalID returns the location with this external id, or nil.
func (c *CountryConfig) LocationByExternalID(ext string) *Location { return c.byExtID[ext] }

// Subtree returns id and every location below it.
func (c *CountryConfig) Subtree(id string) []string {
	out := []string{id}
	for i := 0; i < len(out); i++ {
		out = append(out, c.children[out[i]]...)
	}
	return out
}

// Within reports whether location id is area or lies below it.
func (c *CountryConfig) Within(id, area string) bool {
	for l := c.locations[id]; l != nil; l = c.locations[l.ParentID] {
		if l.ID == area {
			return true
		}
		if l.ParentID == "" {
			break
		}
	}
	return false
}

// IsOfficeOrFacility reports whether id is a CRVS office or health facility.
func (c *CountryConfig) IsOfficeOrFacility(id string) bool {
	l := c.locations[id]
	return l != nil && slices.Contains([]string{LocationCRVSOffice, LocationHealthFacility}, l.LocationType)
}

// Zone is the country's time zone (Settings.TimeZone; UTC when unset).
func (c *CountryConfig) Zone() *time.Location {
	if c.tz == nil {
		return time.UTC
	}
	return c.tz
}

// Today is the calendar day (YYYY-MM-DD) of now in the country's time zone.
func (c *CountryConfig) Today(now time.Time) string {
	tz := c.tz
	if tz == nil {
		tz = time.UTC
	}
	return now.In(tz).Format("2006-01-02")
}

// Duration is a time.Duration written as "10s", "24h" in config files
// (the country's routing.yaml, the hub's partner settings).
type Duration time.Duration

// UnmarshalJSON reads "1h30m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return fmt.Errorf("duration %q: want e.g. \"10s\", \"24h\"", s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil || secs < 0 {
		return fmt.Errorf("duration %s: want e.g. \"10s\", \"24h\"", b)
	}
	*d = Duration(time.Duration(secs * float64(time.Second)))
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
