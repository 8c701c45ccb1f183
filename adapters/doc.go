// Package adapters will hold the National ID and outbound adapters
// (mosip/, esignet/, osia/, webhook/), each behind one core interface and
// registered by name, selected per deployment by the country config. It
// depends on core only. See DESIGN.md section 6.
package adapters
