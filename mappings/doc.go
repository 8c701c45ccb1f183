// Package mappings turns FHIR R4 bundles into event declarations and back.
//
// # Parsing
//
// Map reads a bundle in two passes. A tolerant raw-JSON pass finds the
// resource types, the bundle type (document, message, transaction, batch,
// collection), indexes fullUrls and ids so that every common reference form
// resolves (urn:uuid:, bare UUIDs, Patient/x, http://host/fhir/Patient/x,
// /fhir/Patient/x/_history/1), unwraps nested bundles (a message whose
// MessageHeader.focus is a document; a batch holding one message), reads
// primitive extensions (_birthDate with patient-birthTime or a partial date,
// _valueDateTime partial date-times, both the VRCL and the older VRDR
// extensions) and STU3 shapes (HumanName.family as a list,
// RelatedPerson.relationship as one object, name.use "en"). Unknown resource
// types are ignored with an information issue. The typed R4 models of
// samply/golang-fhir-models then decode the subject (and every resource
// ToBundle writes); a typed failure is reported, never fatal.
//
// # Specs
//
// A family is one YAML or JSON file: the embedded defaults in specs/, and
// <configDir>/fhir/*.yaml|yml|json, where a file with the same family name
// replaces a default and any other adds a family. A family names its event
// type, the bundle types it accepts, the roles it requires (match), the
// subject role whose absence refuses the bundle, roles whose absence is a
// warning (expect), roles whose presence stops the match (match.unless:
// birth evidence about someone other than the decedent keeps a bundle
// from being read as a death), roles that are an event the family does
// not record (notRecorded: each resource found is a warning, or with
// refuse: true a 422 naming the subject and it), whether UTC dateTimes are
// instants (utcInstants), paths to the registration office, and:
//
//	roles:   name -> selector: resource types, section (Composition section
//	         code), profile, code (Observation.code, "system|code" or "code"),
//	         type (Composition/Location type), relationship, ref (a role path
//	         whose References name the resources), where (path=value),
//	         exclude (roles), about (a role the resource's subject or patient
//	         names), notAbout (a subject that is not of that role), noSubject
//	         (no subject reference), oneOf (alternatives), all (keep every match)
//	fields:  declaration field id -> a rule {from: path or [paths], transform,
//	         args, when: field, unless: field}, or a list of rules (the first
//	         that yields a value wins); a rule's paths are tried in order
//	         until the transform yields a value
//
// A profile matches by its name in any spelling: the canonical URL, a
// versioned canonical (|1.0.0), a build.fhir.org or published page
// (.../StructureDefinition-<name>[.html]) or the bare name. The HL7 specs
// fall back to the bundle's own evidence when no profile is recognised
// (relationship codes, Patient.link, Composition sections, the subjects
// of Encounters and Observations) before a role is reported missing.
//
// A role keeps its first match; the subject role and person roles (only
// Patient or RelatedPerson) must match one distinct resource, else the
// bundle is refused naming every match (twins, two different mothers).
// A bundle another family of another event also reads about someone
// else (a death and another person's birth) is refused naming both;
// people the chosen family holds in any of its roles are its own.
//
// Paths start with a role (or "bundle") and use a small FHIRPath subset:
// keys with an optional [index] (lists flatten), extension(url) (url or its
// last segment), where(sub.path=value) or where(sub.path), resolve().
// Transforms are named Go functions, each with a reverse for ToBundle:
// string, text, number, boolean, name, gender, date, datetime, quantity
// (UCUM unit conversion, e.g. g -> kg), identifier (kind nid/passport/brn,
// or explicit types/systems), idType, address (to the v2 address shape),
// location (country-config UUID by id, external id or name), lookup (code
// map; in a family marked reverse, codes that map to one value need a
// reverse entry naming the code written back), const and country.
//
// Dates: in a family with utcInstants (the HIS families) a dateTime in
// UTC (Z, +00:00) gives the calendar day in the country's time zone
// (settings timeZone); otherwise (the HL7 libraries write local clock time
// with +00:00), and with another offset or none, the date is kept as
// written. A leap second (:60) reads as :59. kind nid
// takes only the country's national ID (settings nidSystems, nidTypes): a
// US SSN or another register's number never fills *.nid. Every
// well-formed identifier is kept (one digit repeated, 5555555555, with a
// warning); only one the sender marks as absent (data-absent-reason on
// the Identifier or its _value) or masked (*, XXX-XX-1234) is left out. Fields the event's form does not define are left
// out with an information issue, so one spec serves countries whose forms
// differ.
//
// # Results
//
// Every problem is an Issue with a FHIRPath-like expression such as
// Bundle.entry[3].resource.birthDate. A bundle that cannot be used is an
// *Error of a core.Kind (KindInvalid: not JSON, not strict JSON, not FHIR,
// no Bundle.type; KindUnprocessable: FHIR but unusable: no subject, no
// matching family, an event type the country lacks, a value
// core.ValidateValues refuses; KindTooLarge: too many entries); the HTTP
// layer maps the kind to a status as for every other error. Decode reads
// a body once; Map is Decode then MapBody. Gaps (no mother, an unknown facility, code or
// unit, a partial date, a dangling reference) are warnings on the Result and
// the value is left out. ToBundle is the reverse mapping with the family
// marked reverse for the event type. The package depends on core only.
package mappings
