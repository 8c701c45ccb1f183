// Package mappings will hold the FHIR R4 <-> event declaration mapping:
// a tolerant bundle parser, data-driven mapping specs per bundle family
// (OpenCRVS v1 documents, HL7 BFDR/VRDR, HIS transactions) and the reverse
// mapping to FHIR documents. It depends on core only. See DESIGN.md
// section 7 and the FHIR ingestion issue.
package mappings
