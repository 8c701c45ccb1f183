package core

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// EventIndex is the search projection returned by search (OpenCRVS
// EventIndex shape).
type EventIndex struct {
	ID                  string                  `json:"id"`
	Type                string                  `json:"type"`
	Status              EventStatus             `json:"status"`
	LegalStatuses       map[string]*LegalStatus `json:"legalStatuses"`
	CreatedAt           string                  `json:"createdAt"`
	DateOfEvent         string                  `json:"dateOfEvent,omitempty"`
	PlaceOfEvent        string                  `json:"placeOfEvent,omitempty"`
	CreatedBy           string                  `json:"createdBy"`
	CreatedByUserType   UserType                `json:"createdByUserType,omitempty"`
	CreatedAtLocation   string                  `json:"createdAtLocation,omitempty"`
	UpdatedAtLocation   string                  `json:"updatedAtLocation,omitempty"`
	UpdatedAt           string                  `json:"updatedAt"`
	UpdatedBy           string                  `json:"updatedBy,omitempty"`
	UpdatedByUserRole   string                  `json:"updatedByUserRole,omitempty"`
	AssignedTo          *string                 `json:"assignedTo,omitempty"` // omitted when unassigned, as in OpenCRVS v2.0
	TrackingID          string                  `json:"trackingId"`
	PotentialDuplicates []any                   `json:"potentialDuplicates"`
	Flags               []string                `json:"flags"`
	Declaration         Declaration             `json:"declaration"`
}

// BuildIndex computes the search projection of an event.
func BuildIndex(cc *CountryConfig, ev *EventDocument, st State) (*IndexRow, error) {
	row := &IndexRow{
		EventID: ev.ID, Type: ev.Type, Status: string(st.Status), TrackingID: ev.TrackingID,
		Flags: st.Flags, CreatedAt: ev.CreatedAt, UpdatedAt: ev.UpdatedAt,
		CreatedAtLocation: st.CreatedAtLocation, UpdatedAtLocation: st.UpdatedAtLocation,
		AssignedTo: st.AssignedTo, CreatedBy: st.CreatedBy, UpdatedBy: st.UpdatedBy,
		CreatedByUserType: string(st.CreatedByUserType), Deleted: st.Deleted,
	}
	idx := EventIndex{
		ID: ev.ID, Type: ev.Type, Status: st.Status, LegalStatuses: map[string]*LegalStatus{},
		CreatedAt: FormatWireTime(ev.CreatedAt), UpdatedAt: FormatWireTime(ev.UpdatedAt),
		CreatedBy: st.CreatedBy, CreatedByUserType: st.CreatedByUserType,
		CreatedAtLocation: st.CreatedAtLocation, UpdatedAtLocation: st.UpdatedAtLocation,
		UpdatedBy: st.UpdatedBy, UpdatedByUserRole: st.UpdatedByRole, TrackingID: ev.TrackingID,
		PotentialDuplicates: []any{}, Flags: st.Flags, Declaration: st.Declaration,
	}
	if st.AssignedTo != "" {
		a := st.AssignedTo
		idx.AssignedTo = &a
	}
	if st.Declared != nil {
		idx.LegalStatuses["DECLARED"] = st.Declared
		row.DeclaredAtLocation = st.Declared.CreatedAtLocation
	}
	if st.Registered != nil {
		idx.LegalStatuses["REGISTERED"] = st.Registered
		row.RegistrationNumber = st.Registered.RegistrationNumber
		row.RegisteredAtLocation = st.Registered.CreatedAtLocation
		t := st.Registered.AcceptedAt
		row.RegisteredAt = &t
	}
	acc := AccessOf(cc, ev, st)
	idx.PlaceOfEvent, row.PlaceOfEvent = acc.PlaceOfEvent, acc.PlaceOfEvent
	row.DeclaredBy, row.RegisteredBy = acc.DeclaredBy, acc.RegisteredBy
	ec := cc.Event(ev.Type)
	if ec != nil {
		if ec.DateOfEvent != "" {
			var s string
			if json.Unmarshal(st.Declaration[ec.DateOfEvent], &s) == nil {
				idx.DateOfEvent, row.DateOfEvent = s, s
			}
		}
		for _, id := range slices.Sorted(maps.Keys(st.Declaration)) {
			f := ec.Field(id)
			if f == nil {
				continue
			}
			row.Fields = append(row.Fields, IndexValues(f, st.Declaration[id])...)
		}
	}
	doc, err := json.Marshal(idx)
	if err != nil {
		return nil, Wrap(err, KindInternal, "INDEX", "cannot encode event index")
	}
	row.Doc = doc
	return row, nil
}

// IndexValues returns the search rows of one field value.
func IndexValues(f *FieldConfig, raw json.RawMessage) []IndexField {
	if isNull(raw) {
		return nil
	}
	text := func(s string) []IndexField {
		if s = NormalizeText(s); s == "" {
			return nil
		}
		return []IndexField{{FieldID: f.ID, Kind: KindText, Text: s}}
	}
	switch f.Type {
	case FieldDate:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		return []IndexField{{FieldID: f.ID, Kind: KindDate, Text: s}}
	case FieldNumber:
		n, ok := decodeNumber(raw)
		if !ok {
			return nil
		}
		return []IndexField{{FieldID: f.ID, Kind: KindNum, Num: n}}
	case FieldNumberWithUnit:
		var v struct {
			NumericValue *float64 `json:"numericValue"`
		}
		if json.Unmarshal(raw, &v) != nil || v.NumericValue == nil {
			return nil
		}
		return []IndexField{{FieldID: f.ID, Kind: KindNum, Num: *v.NumericValue}}
	case FieldBoolean:
		return text(strings.TrimSpace(string(raw)))
	case FieldName:
		var n struct{ Firstname, Middlename, Surname string }
		if json.Unmarshal(raw, &n) != nil {
			return nil
		}
		full := strings.Join(strings.Fields(n.Firstname+" "+n.Middlename+" "+n.Surname), " ")
		out := text(full)
		seen := map[string]bool{}
		for _, tok := range Tokens(full) {
			if !seen[tok] {
				seen[tok] = true
				out = append(out, IndexField{FieldID: f.ID, Kind: KindToken, Text: tok})
			}
			if sx := Soundex(tok); sx != "" && !seen[SoundexPrefix+sx] {
				seen[SoundexPrefix+sx] = true
				out = append(out, IndexField{FieldID: f.ID, Kind: KindToken, Text: SoundexPrefix + sx})
			}
		}
		return out
	case FieldAddress:
		var a struct {
			AdministrativeArea string `json:"administrativeArea"`
			District           string `json:"district"`
			Country            string `json:"country"`
		}
		if json.Unmarshal(raw, &a) != nil {
			return nil
		}
		area := a.AdministrativeArea
		if area == "" {
			area = a.District
		}
		if area == "" {
			return text(a.Country)
		}
		return []IndexField{{FieldID: f.ID, Kind: KindText, Text: strings.ToLower(area)}}
	case FieldFile:
		return nil
	default:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		if f.Type == FieldLocation {
			return []IndexField{{FieldID: f.ID, Kind: KindText, Text: strings.ToLower(s)}}
		}
		return text(s)
	}
}
