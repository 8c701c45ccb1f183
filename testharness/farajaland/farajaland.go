// Package farajaland gives tests the embedded default country config
// (OpenCRVS's demo country Farajaland), the ids of its locations, and the
// small helpers the engine's test packages share: a declaration from a JSON
// literal and an assertion that an error is a *core.Error.
package farajaland

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
)

// Locations of the embedded default config.
const (
	Central         = "5b607555-e83d-49f5-a681-d9a4776f70c5" // province
	Sulaka          = "2bed186c-4ade-4708-8410-82cbd39ba408" // province
	Pualula         = "ff943d85-0c03-4988-add5-b93d78915ac8" // province
	Ibombo          = "d71605e6-b20e-4b2e-a6ff-4cd2641fb0cb" // district of Central
	Isamba          = "f8fca9cc-ac9b-422a-9aad-cdd5fd9b5151" // district of Central
	Ilanga          = "4c0d2619-69b7-4489-93a0-915340c590c9" // district of Sulaka
	Embe            = "24c59a68-90fa-422b-b720-261d0bb7f704" // district of Pualula
	HQOffice        = "b3d48539-18da-47e4-b5cd-6e7f94766eb9" // CRVS office in Embe
	IbomboOffice    = "58325d6c-dc50-4779-aa42-06daa5712756" // CRVS office in Ibombo
	IlangaOffice    = "8afa81b5-d668-4373-8658-a51abb3a49e8" // CRVS office in Ilanga
	IbomboHospital  = "a60080a9-9ddb-4d93-bfac-9f40239b3219" // health facility in Ibombo
	Chikobo         = "cfa64051-dd26-49e6-8295-e4e202ce495b" // health facility in Ibombo
	Chilochabalenje = "93a724c3-c35f-452d-86a3-1d136cb2e693" // health facility in Ibombo
	IlangaHospital  = "c2a44b74-dc4d-4b37-9df2-8d513652caa1" // health facility in Ilanga
)

var (
	once sync.Once
	cc   *core.CountryConfig
	err  error
)

// Config returns the embedded default country config, loaded once.
func Config(t testing.TB) *core.CountryConfig {
	t.Helper()
	once.Do(func() { cc, err = countryconfig.Load("") })
	if err != nil {
		t.Fatalf("load default country config: %v", err)
	}
	return cc
}

// Decl builds a Declaration from a JSON object literal.
func Decl(t testing.TB, js string) core.Declaration {
	t.Helper()
	var d core.Declaration
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatalf("bad declaration literal %s: %v", js, err)
	}
	return d
}

// CoreErr asserts err is a *core.Error and returns it.
func CoreErr(t testing.TB, err error) *core.Error {
	t.Helper()
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *core.Error", err, err)
	}
	return e
}
