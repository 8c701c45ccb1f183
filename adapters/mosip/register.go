package mosip

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

// MOSIP process names (research §1 item 7, §2).
const (
	processBirth = "CRVS_NEW"
	processDeath = "CRVS_DEATH"
	packetSource = "OPENCRVS" // MOSIP picks the camel workflow from source+process
)

// correlationData is what the adapter keeps in core.Correlation.Data.
type correlationData struct {
	EventType string `json:"eventType"`
}

// Register sends a birth (process CRVS_NEW) or death (CRVS_DEATH) to MOSIP
// as a packet whose AID is PacketID(centre, machine, event id, process),
// after storing the correlation (AID -> this action), and answers Pending:
// the outcome arrives by the CREDENTIAL_ISSUED callback. The AID belongs to
// the record, not to the action: calling it again for the same action, for
// a new REGISTER after an operator's reject, or for an approved correction
// re-sends the same AID, so MOSIP updates the one packet and identity it
// has for the record and never makes a second registration (a second VID
// for one child). The correlation is replaced, so MOSIP's next credential
// for the AID resolves the newest action.
func (a *Adapter) Register(ctx context.Context, r adapters.Registration) (adapters.Outcome, error) {
	var process string
	var fields map[string]string
	var err error
	switch r.EventType {
	case "birth":
		process = processBirth
		fields, err = birthFields(r, a.cfg.Language)
	case "death":
		process = processDeath
		fields, err = deathFields(r, a.cfg.Language)
	default:
		return adapters.Outcome{}, fmt.Errorf("mosip: register: %w: event type %q is not birth or death", adapters.ErrPermanent, r.EventType)
	}
	if err != nil {
		return adapters.Outcome{}, fmt.Errorf("mosip: register: %w", err)
	}
	if r.EventID == "" || r.ActionID == "" {
		return adapters.Outcome{}, fmt.Errorf("mosip: register: %w: event and action ids are required", adapters.ErrPermanent)
	}
	if r.CorrelationID == "" {
		r.CorrelationID = core.RequestMetaFrom(ctx).CorrelationID
	}
	aid, err := a.recordAID(ctx, r.EventID, process)
	if err != nil {
		return adapters.Outcome{}, err
	}

	data, _ := json.Marshal(correlationData{EventType: r.EventType})
	if err := a.corr.PutCorrelation(ctx, core.Correlation{
		Partner: partnerName, Key: aid, EventID: r.EventID, ActionID: r.ActionID, ActionType: r.ActionType,
		RegistrationNumber: r.RegistrationNumber, CorrelationID: r.CorrelationID, CreatedAt: a.cfg.Now().UTC(), Data: data,
	}); err != nil {
		return adapters.Outcome{}, fmt.Errorf("mosip: register: store correlation: %w", err)
	}

	packet, err := json.Marshal(a.createPacketBody(r, aid, process, fields))
	if err != nil {
		return adapters.Outcome{}, fmt.Errorf("mosip: register: %w", err)
	}
	if _, err := a.send(ctx, call{name: "createPacket", method: http.MethodPut, url: a.cfg.CreatePacketURL,
		body: packet, corrID: r.CorrelationID, tokens: a.packetTokens}); err != nil {
		return adapters.Outcome{}, err
	}
	wf, err := json.Marshal(a.workflowBody(r, aid, process))
	if err != nil {
		return adapters.Outcome{}, fmt.Errorf("mosip: register: %w", err)
	}
	if _, err := a.send(ctx, call{name: "workflowinstance", method: http.MethodPost, url: a.cfg.ProcessPacketURL,
		body: wf, corrID: r.CorrelationID, tokens: a.packetTokens}); err != nil {
		return adapters.Outcome{}, err
	}
	a.cfg.Log.InfoContext(ctx, "mosip packet created", "packetId", aid, "process", process,
		"eventId", r.EventID, "actionId", r.ActionID, "correlationId", r.CorrelationID)
	return adapters.Outcome{Kind: adapters.Pending, Reference: aid}, nil
}

// labelValue is one entry of metaInfo's stringified label lists.
type labelValue struct {
	Label string  `json:"label"`
	Value *string `json:"value"`
}

func lv(label, value string) labelValue { return labelValue{Label: label, Value: &value} }

func stringify(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// createPacketBody is the packetmanager createPacket request (research §1
// item 7 and the v2 reference metaInfo/audit, with this hub's values).
func (a *Adapter) createPacketBody(r adapters.Registration, aid, process string, fields map[string]string) map[string]any {
	now := a.cfg.Now().UTC()
	officer := a.cfg.PacketClient.ID
	metaInfo := map[string]string{
		"metaData": stringify([]labelValue{
			lv("registrationType", process), lv("machineId", a.cfg.MachineID), lv("centerId", a.cfg.CenterID),
		}),
		"registrationId":            aid,
		"operationsData":            stringify([]labelValue{lv("officerId", officer), {Label: "supervisorId"}}),
		"capturedRegisteredDevices": "[]",
		"creationDate":              now.Format("20060102150405"),
	}
	ts := now.Format("2006-01-02T15:04:05.000Z")
	audit := map[string]string{
		"uuid":            uuid.NewSHA1(uuid.NameSpaceURL, []byte("crvshub:mosip:"+aid)).String(),
		"createdAt":       ts,
		"eventId":         "REG-EVT-066",
		"eventName":       "PACKET_CREATION_SUCCESS",
		"eventType":       "USER",
		"hostName":        a.host.name,
		"hostIp":          a.host.ip,
		"applicationId":   "REG",
		"applicationName": "crvshub",
		"sessionUserId":   officer,
		"sessionUserName": officer,
		"id":              aid,
		"idType":          "REGISTRATION_ID",
		"createdBy":       officer,
		"moduleName":      "Packet Handler",
		"moduleId":        "REG-MOD-117",
		"description":     fmt.Sprintf("Packet created by crvshub for %s event %s action %s (%s)", r.EventType, r.EventID, r.ActionID, r.ActionType),
		"actionTimeStamp": ts,
	}
	return map[string]any{
		"id": "mosip.registration.packet.writer", "version": "v1", "requesttime": a.requestTime(),
		"request": map[string]any{
			"id": aid, "refId": a.cfg.CenterID + "_" + a.cfg.MachineID, "offlineMode": false,
			"process": process, "source": packetSource, "schemaVersion": a.cfg.SchemaVersion,
			"fields": fields, "metaInfo": metaInfo, "audits": []map[string]string{audit},
			"schemaJson": a.cfg.SchemaJSON,
		},
	}
}

// workflowBody is the registration-processor workflowinstance request
// (research §1 item 8); notificationInfo names the registrant and the
// informant's contact when the declaration has them.
func (a *Adapter) workflowBody(r adapters.Registration, aid, process string) map[string]any {
	d := decl(r.Declaration)
	subject := "child.name"
	if r.EventType == "death" {
		subject = "deceased.name"
	}
	n, _, _ := d.name(subject)
	phone, _, _ := d.str("informant.phoneNo")
	email, _, _ := d.str("informant.email")
	return map[string]any{
		"id": "mosip.registration.processor.workflow.instance", "version": "v1", "requesttime": a.requestTime(),
		"request": map[string]any{
			"registrationId": aid, "process": process, "source": packetSource, "additionalInfoReqId": "",
			"notificationInfo": map[string]string{"name": n.full(), "phone": phone, "email": email},
		},
	}
}

// recordAID is the packet id (AID) of a record: the one already sent for
// it while a correlation for it is outstanding (a packet an older hub sent
// under an id derived another way must be updated, not duplicated by a
// second identity), else PacketID's.
func (a *Adapter) recordAID(ctx context.Context, eventID, process string) (string, error) {
	aid := PacketID(a.cfg.CenterID, a.cfg.MachineID, eventID, process)
	cs, err := a.corr.EventCorrelations(ctx, partnerName, eventID)
	if err != nil {
		return "", fmt.Errorf("mosip: register: read correlations: %w", err)
	}
	for _, c := range cs {
		if c.Key == aid {
			return aid, nil
		}
	}
	if len(cs) > 0 {
		a.cfg.Log.InfoContext(ctx, "mosip: sending the record again under the packet id it was first sent with",
			"eventId", eventID, "packetId", cs[0].Key)
		return cs[0].Key, nil
	}
	return aid, nil
}
