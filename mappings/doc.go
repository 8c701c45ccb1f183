// Package mappings turns FHIR R4 bundles into event declarations and back.
//
// Map reads a bundle in two passes: a tolerant raw-JSON pass (resource
// types, bundle type, fullUrl index, references in every common form,
// primitive extensions such as _birthDate, STU3 shapes, nested bundles in
// messages) and, where it helps, a typed decode with
// samply/golang-fhir-models that never fails the bundle. It then picks the
// mapping spec (a "family": OpenCRVS v1 documents, HL7 BFDR/VRDR, message
// wrappers, HIS transaction/collection bundles) whose match rule fits, and
// evaluates the spec's selectors and named transforms to build a
// core.Declaration, checked with core.ValidateValues.
//
// Specs are data: YAML or JSON files, embedded from specs/ and overridable
// or extended from <configDir>/fhir/. A new family is a new file. ToBundle
// is the reverse mapping, driven by the same specs.
//
// Every problem is an OperationOutcome Issue with a FHIRPath-like
// expression. Bad input yields *Error (HTTP 400 or 422); gaps yield
// warning issues on the Result. It depends on core only.
package mappings
