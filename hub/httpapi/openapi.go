package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

var ginParamRe = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// OpenAPIPath turns a Gin route pattern into an OpenAPI path.
func OpenAPIPath(ginPath string) string { return ginParamRe.ReplaceAllString(ginPath, "{$1}") }

type obj = map[string]any

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

func (s *Server) openAPIHandler(c *gin.Context) {
	openAPIOnce.Do(func() { openAPIDoc, _ = json.MarshalIndent(s.OpenAPI(), "", "  ") })
	c.Data(http.StatusOK, "application/json", openAPIDoc)
}

// OpenAPI builds the OpenAPI 3 document from the route table, so every
// registered route is described and nothing else is.
func (s *Server) OpenAPI() obj {
	paths := obj{}
	for _, r := range s.routes {
		p := OpenAPIPath(r.path)
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		op := obj{"summary": r.summary, "tags": []string{r.tag},
			"operationId": operationID(r.method, r.path)}
		var params []obj
		for _, m := range ginParamRe.FindAllStringSubmatch(r.path, -1) {
			params = append(params, obj{"name": m[1], "in": "path", "required": true, "schema": obj{"type": "string"}})
		}
		if r.path == EventsPrefix+"/locations" {
			for _, q := range []string{"locationType", "externalId", "isActive", "locationIds"} {
				params = append(params, obj{"name": q, "in": "query", "required": false, "schema": obj{"type": "string"}})
			}
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.auth {
			op["security"] = []obj{{"bearer": []string{}}}
			if len(r.scopes) > 0 {
				var groups []string
				for _, g := range r.scopes {
					groups = append(groups, strings.Join(g, " | "))
				}
				op["x-scopes"] = groups
			}
		}
		if r.fhir && r.body {
			op["parameters"] = append(params, obj{"name": "createdAtLocation", "in": "query", "required": false, "schema": strf("uuid"),
				"description": "office of the new event when the bundle names none (else the client's default office)"})
		}
		if r.request != "" {
			content := obj{"application/json": obj{"schema": ref(r.request)}}
			if r.request == "TokenRequest" {
				content["application/x-www-form-urlencoded"] = obj{"schema": ref(r.request)}
			}
			if r.fhir {
				content = obj{FHIRContentType: obj{"schema": ref(r.request)}, "application/json": obj{"schema": ref(r.request)}}
			}
			op["requestBody"] = obj{"required": r.request != "TokenRequest", "content": content}
		}
		okSchema := ref(r.response)
		if r.responseIsArray {
			okSchema = obj{"type": "array", "items": ref(r.response)}
		}
		mediaType := "application/json"
		if r.response == "PEM" {
			mediaType = "text/plain"
		}
		if r.fhir {
			mediaType = FHIRContentType
		}
		responses := obj{"200": obj{"description": "OK", "content": obj{mediaType: obj{"schema": okSchema}}}}
		if r.created {
			responses["201"] = obj{"description": "Created; the Location header is the event's URL",
				"headers": obj{"Location": obj{"schema": str()}}, "content": obj{mediaType: obj{"schema": okSchema}}}
		}
		statuses := r.statuses
		if r.body { // readBudgeted: a late body, no body budget
			statuses = slices.Concat(statuses, []int{http.StatusRequestTimeout, http.StatusServiceUnavailable})
		}
		for _, st := range statuses {
			schema, errType := ref("Error"), "application/json"
			if r.tag == "auth" {
				schema = ref("OAuthError")
			}
			if r.fhir {
				schema, errType = ref("OperationOutcome"), FHIRContentType
				// $process-message: a response message once the body's header was read
				if r.body && r.response == "Bundle" && st != http.StatusUnauthorized && st != http.StatusRequestEntityTooLarge && st != http.StatusUnsupportedMediaType && st != http.StatusTooManyRequests {
					schema = obj{"oneOf": []obj{ref("Bundle"), ref("OperationOutcome")}}
				}
			}
			responses[strconv.Itoa(st)] = obj{"description": http.StatusText(st), "content": obj{errType: obj{"schema": schema}}}
		}
		op["responses"] = responses
		item[strings.ToLower(r.method)] = op
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "crvshub API", "version": "0.1.0",
			"description": "OpenCRVS v2-compatible events API of the crvshub civil registration interoperability hub."},
		"paths": paths,
		"components": obj{
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
			"schemas":         schemas(),
		},
	}
}

func operationID(method, path string) string {
	parts := strings.FieldsFunc(OpenAPIPath(path), func(r rune) bool {
		return r == '/' || r == '{' || r == '}' || r == '.' || r == '-' || r == '$'
	})
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.ToLower(method) + strings.Join(parts, "")
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func str() obj               { return obj{"type": "string"} }
func strf(format string) obj { return obj{"type": "string", "format": format} }
func object(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		o["required"] = required
	}
	return o
}

func schemas() obj {
	decl := obj{"type": "object", "description": "Flat map of form field id -> value (see GET /config)", "additionalProperties": true}
	action := object(obj{
		"id": strf("uuid"), "type": str(), "status": obj{"type": "string", "enum": []string{"Requested", "Accepted", "Rejected"}},
		"transactionId": str(), "createdBy": str(), "createdByUserType": obj{"type": "string", "enum": []string{"user", "system"}},
		"createdByRole": str(), "createdAt": strf("date-time"), "createdAtLocation": strf("uuid"),
		"declaration": decl, "annotation": decl, "content": obj{"type": "object"}, "originalActionId": strf("uuid"),
		"registrationNumber": str(), "assignedTo": str(), "requestId": str(),
	}, "id", "type", "status", "transactionId", "createdBy", "createdByUserType", "createdAt", "declaration")
	return obj{
		"Error": object(obj{"message": str(), "code": str(), "errors": obj{"type": "array", "items": object(obj{"id": str(), "message": str()})},
			"data": object(obj{"code": str(), "httpStatus": obj{"type": "integer"}, "path": str()}, "code", "httpStatus", "path")}, "message", "code"),
		"OAuthError":    object(obj{"error": str(), "error_description": str()}, "error"),
		"TokenRequest":  object(obj{"grant_type": obj{"type": "string", "enum": []string{"client_credentials"}}, "client_id": str(), "client_secret": str()}),
		"TokenResponse": object(obj{"access_token": str(), "token_type": obj{"type": "string", "enum": []string{"Bearer"}}, "expires_in": obj{"type": "integer"}}, "access_token", "token_type"),
		"PEM":           str(),
		"JWKS":          object(obj{"keys": obj{"type": "array", "items": obj{"type": "object"}}}, "keys"),
		"Health":        object(obj{"status": str()}, "status"),
		"Readiness": object(obj{"status": obj{"type": "string", "enum": []string{"ok", "unavailable"}},
			"checks":           obj{"type": "object", "additionalProperties": obj{"type": "string", "enum": []string{"ok", "failing"}}},
			"outboxLagSeconds": obj{"type": "number"}}, "status"),
		"OpenAPI": obj{"type": "object"},
		"EventConfig": object(obj{"id": str(), "label": str(), "dateOfEvent": str(), "placeOfEvent": str(),
			"fields": obj{"type": "array", "items": object(obj{"id": str(), "type": str(), "label": str(), "required": obj{"type": "boolean"},
				"requiredIf": obj{"type": "object"}, "options": obj{"type": "array", "items": str()}})}}, "id", "fields"),
		"Location": object(obj{"id": strf("uuid"), "name": str(), "alias": str(), "externalId": str(),
			"locationType": obj{"type": "string", "enum": []string{"ADMIN_STRUCTURE", "CRVS_OFFICE", "HEALTH_FACILITY"}},
			"parentId":     strf("uuid"), "administrativeAreaId": strf("uuid"), "validUntil": strf("date-time")}, "id", "name", "locationType"),
		"CreateEventInput": object(obj{"transactionId": str(), "type": str(), "createdAtLocation": strf("uuid")}, "transactionId", "type"),
		"CreateAndNotifyInput": object(obj{"transactionId": str(), "eventType": str(), "createdAtLocation": strf("uuid"),
			"declaration": decl, "annotation": decl}, "transactionId", "eventType", "createdAtLocation"),
		"ActionInput": object(obj{"eventId": strf("uuid"), "transactionId": str(), "type": str(), "declaration": decl, "annotation": decl,
			"createdAtLocation": strf("uuid"), "registrationNumber": str(), "content": obj{"type": "object", "description": "e.g. {reason} for REJECT"},
			"requestId": str(), "assignedTo": str(), "originalActionId": str(), "keepAssignment": obj{"type": "boolean"},
			"keepAssignmentIfAccepted": obj{"type": "boolean"}, "keepAssignmentIfRejected": obj{"type": "boolean"}, "waitFor": obj{"type": "boolean"}},
			"transactionId"),
		"Action": action,
		"EventDocument": object(obj{"id": strf("uuid"), "type": str(), "trackingId": str(), "createdAt": strf("date-time"),
			"updatedAt": strf("date-time"), "actions": obj{"type": "array", "items": ref("Action")}}, "id", "type", "trackingId", "createdAt", "updatedAt", "actions"),
		"SearchQuery": object(obj{"query": obj{"description": "{type: and|or, clauses: [...]} or the same as a JSON string", "oneOf": []obj{{"type": "object"}, {"type": "string"}}},
			"limit": obj{"type": "integer", "minimum": 1, "maximum": 1000}, "offset": obj{"type": "integer", "minimum": 0},
			"sort": obj{"oneOf": []obj{{"type": "array", "items": object(obj{"field": str(), "direction": obj{"type": "string", "enum": []string{"asc", "desc"}}})}, {"type": "string"}}}}, "query"),
		"EventIndex": object(obj{"id": strf("uuid"), "type": str(), "status": str(), "trackingId": str(), "legalStatuses": obj{"type": "object"},
			"createdAt": strf("date-time"), "updatedAt": strf("date-time"), "dateOfEvent": str(), "placeOfEvent": str(), "createdBy": str(),
			"createdAtLocation": str(), "updatedAtLocation": str(), "assignedTo": obj{"type": "string", "nullable": true},
			"flags": obj{"type": "array", "items": str()}, "potentialDuplicates": obj{"type": "array", "items": obj{"type": "object"}}, "declaration": decl},
			"id", "type", "status", "trackingId", "flags", "declaration"),
		"SearchResult": object(obj{"results": obj{"type": "array", "items": ref("EventIndex")}, "total": obj{"type": "integer"}}, "results", "total"),
		"Bundle": object(obj{"resourceType": obj{"type": "string", "enum": []string{"Bundle"}}, "id": str(),
			"type":       obj{"type": "string", "enum": []string{"document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"}},
			"identifier": obj{"type": "object"}, "timestamp": strf("date-time"),
			"entry": obj{"type": "array", "items": object(obj{"fullUrl": str(), "resource": obj{"type": "object", "description": "any FHIR R4 resource (resourceType)"}})}},
			"resourceType", "type"),
		"OperationOutcome": object(obj{"resourceType": obj{"type": "string", "enum": []string{"OperationOutcome"}},
			"issue": obj{"type": "array", "items": object(obj{
				"severity":    obj{"type": "string", "enum": []string{"fatal", "error", "warning", "information"}},
				"code":        obj{"type": "string", "description": "FHIR issue-type code (invalid, structure, required, value, forbidden, not-found, conflict, too-long, not-supported, informational...)"},
				"expression":  obj{"type": "array", "items": str(), "description": "FHIRPath-like location in the bundle, e.g. Bundle.entry[3].resource.birthDate"},
				"diagnostics": str()}, "severity", "code")}}, "resourceType", "issue"),
		"CapabilityStatement": object(obj{"resourceType": obj{"type": "string", "enum": []string{"CapabilityStatement"}},
			"status": str(), "kind": str(), "fhirVersion": str(), "format": obj{"type": "array", "items": str()},
			"rest": obj{"type": "array", "items": obj{"type": "object"}}}, "resourceType", "status", "kind", "fhirVersion", "format"),
		"Metrics": obj{"type": "string", "description": "Prometheus text exposition format"},
		"ResolveInput": object(obj{"transactionId": str(), "eventId": strf("uuid"), "actionId": strf("uuid"), "registrationNumber": str(),
			"declaration": decl, "reason": obj{"type": "string", "description": "rejections only"}}),
		"ReplayInput":       object(obj{"ids": obj{"type": "array", "items": str(), "description": "dead letter ids; leave out to replay every dead letter"}}),
		"DiscardInput":      object(obj{"reason": str()}, "reason"),
		"ConfirmationToken": object(obj{"token": str(), "expiresIn": obj{"type": "integer"}}, "token", "expiresIn"),
		"ResendReceipt": object(obj{"eventId": strf("uuid"), "actionId": strf("uuid"), "topic": str(), "partner": str(),
			"resentAt": strf("date-time")}, "eventId", "actionId", "topic", "resentAt"),
		"DeadLetter": object(obj{"seq": obj{"type": "integer"}, "id": str(), "topic": str(), "handler": str(), "payload": obj{"type": "object"},
			"metadata": obj{"type": "object", "additionalProperties": str()}, "error": str(), "attempts": obj{"type": "integer"},
			"status": obj{"type": "string", "enum": []string{"dead", "replayed", "discarded"}}, "reason": str(),
			"failedAt": strf("date-time"), "updatedAt": strf("date-time")}, "seq", "id", "topic", "handler", "error", "attempts", "status"),
		"FieldValue": object(obj{"eventId": strf("uuid"), "trackingId": str(), "fieldId": str(), "value": obj{"nullable": true}}, "eventId", "trackingId", "fieldId", "value"),
	}
}
