package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/searchquery"
)

// decodeStrict decodes a JSON body into v, rejecting unknown keys, wrong
// value types (with a message that names the field) and anything after the
// JSON object.
func decodeStrict(b []byte, v any) error {
	if len(b) == 0 {
		return core.Errorf(core.KindInvalid, "INVALID_INPUT", "Request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	// dec.More() misses a stray '}' or ']' (it reports "no more values in
	// this container"); only reaching the end of input proves there is
	// nothing after the object (as core's strictDecode does).
	if _, terr := dec.Token(); err == nil && !errors.Is(terr, io.EOF) {
		err = errors.New("unexpected data after the JSON object")
	}
	if err == nil {
		return nil
	}
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &ute):
		field := core.Clip(ute.Field)
		if field == "" {
			return core.Errorf(core.KindInvalid, "INVALID_INPUT", "Request body must be a JSON object")
		}
		return &core.Error{Kind: core.KindInvalid, Code: "INVALID_INPUT",
			Message: fmt.Sprintf("Invalid input: field '%s' must be %s, not %s", field, jsonKind(ute.Type.Kind().String()), ute.Value),
			Fields:  []core.FieldError{{ID: field, Message: "Invalid input"}}}
	case errors.As(err, &se):
		return core.Errorf(core.KindInvalid, "INVALID_JSON", "Request body is not valid JSON (at byte %d)", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := core.Clip(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		return &core.Error{Kind: core.KindInvalid, Code: "INVALID_INPUT",
			Message: fmt.Sprintf("Unexpected field '%s' in request body", field),
			Fields:  []core.FieldError{{ID: field, Message: "Unexpected field"}}}
	}
	return core.Errorf(core.KindInvalid, "INVALID_JSON", "Request body is not valid JSON: %s", core.Clip(err.Error()))
}

func jsonKind(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "float64":
		return "a number"
	}
	return "of another type"
}

func (s *Server) fail(c *gin.Context, err error) { writeError(c, s.log, err) }

// reply answers 200 with v, or the error.
func (s *Server) reply(c *gin.Context, v any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) getConfig(c *gin.Context) {
	c.JSON(http.StatusOK, s.deps.Service.Config.Events)
}

func (s *Server) getLocations(c *gin.Context) {
	cc := s.deps.Service.Config
	q := c.Request.URL.Query()
	var active *bool
	if v := q.Get("isActive"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.fail(c, core.Errorf(core.KindInvalid, "INVALID_INPUT", "isActive must be true or false"))
			return
		}
		active = &b
	}
	types := splitList(q["locationType"])
	for _, t := range types {
		if t != core.LocationAdminStructure && t != core.LocationCRVSOffice && t != core.LocationHealthFacility {
			s.fail(c, core.Errorf(core.KindInvalid, "INVALID_INPUT", "locationType '%s' is not one of ADMIN_STRUCTURE, CRVS_OFFICE, HEALTH_FACILITY", t))
			return
		}
	}
	ext := splitList(q["externalId"])
	ids := splitList(q["locationIds"])
	now := time.Now()
	out := make([]core.Location, 0, len(cc.Locations))
	for _, l := range cc.Locations {
		if len(types) > 0 && !slices.Contains(types, l.LocationType) ||
			len(ext) > 0 && !slices.Contains(ext, l.ExternalID) ||
			len(ids) > 0 && !slices.Contains(ids, l.ID) ||
			active != nil && l.Active(now) != *active {
			continue
		}
		out = append(out, l)
	}
	c.JSON(http.StatusOK, out)
}

func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (s *Server) createEvent(c *gin.Context) {
	var in core.CreateInput
	if err := decodeInput(body(c), &in); err != nil {
		s.fail(c, err)
		return
	}
	ev, err := s.deps.Service.CreateEvent(c.Request.Context(), principal(c), in)
	s.reply(c, ev, err)
}

func (s *Server) createAndNotify(c *gin.Context) {
	var in core.CreateAndNotifyInput
	if err := decodeInput(body(c), &in); err != nil {
		s.fail(c, err)
		return
	}
	ev, _, err := s.deps.Service.CreateAndNotify(c.Request.Context(), principal(c), in)
	s.reply(c, ev, err)
}

// eventID is the route's event id, which must be a UUID: OpenCRVS v2.0
// validates it before looking, so a malformed id is a 400, not a 404.
func eventID(c *gin.Context) (string, error) {
	id := c.Param("eventId")
	if !core.IsUUID(id) {
		return "", &core.Error{Kind: core.KindInvalid, Code: "INVALID_INPUT", Message: "Input validation failed: eventId must be a UUID",
			Fields: []core.FieldError{{ID: "eventId", Message: "Invalid uuid"}}}
	}
	return id, nil
}

func (s *Server) action(t core.ActionType) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := eventID(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		var in core.ActionInput
		if err := decodeInput(body(c), &in); err != nil {
			s.fail(c, err)
			return
		}
		if in.Type != "" && in.Type != t {
			s.fail(c, core.Errorf(core.KindInvalid, "INVALID_INPUT", "type '%s' in the body does not match the route's action %s", in.Type, t))
			return
		}
		in.Type = t
		ev, err := s.deps.Service.Act(c.Request.Context(), principal(c), id, in)
		if err != nil {
			s.fail(c, err)
			return
		}
		if s.deps.AfterAction != nil {
			ev = s.deps.AfterAction(c.Request.Context(), ev)
		}
		c.JSON(http.StatusOK, ev)
	}
}

func (s *Server) getEvent(c *gin.Context) {
	id, err := eventID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ev, err := s.deps.Service.Get(c.Request.Context(), principal(c), id)
	s.reply(c, ev, err)
}

func (s *Server) getByTrackingID(c *gin.Context) {
	ev, err := s.deps.Service.GetByTrackingID(c.Request.Context(), principal(c), c.Param("trackingId"))
	s.reply(c, ev, err)
}

func (s *Server) getFieldByTrackingID(c *gin.Context) {
	fv, err := s.deps.Service.FieldByTrackingID(c.Request.Context(), principal(c), c.Param("trackingId"), c.Param("fieldId"))
	s.reply(c, fv, err)
}

// search parses an OpenCRVS SearchQuery body and runs it. A caller
// without record.search learns that (403) before anything of its query.
func (s *Server) search(c *gin.Context) {
	p := principal(c)
	if err := core.RequireScope(p, []string{core.ScopeRecordSearch}, ""); err != nil {
		s.reply(c, nil, err)
		return
	}
	raw := body(c)
	f, err := searchquery.Parse(raw, s.deps.Service.Config, s.now())
	if err != nil {
		s.reply(c, nil, err)
		return
	}
	res, err := s.deps.Service.Search(c.Request.Context(), p, f, raw)
	s.reply(c, res, err)
}
