package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/crvshub/crvshub/core"
)

func (v *txView) ReserveRegistrationNumber(number, eventID string) error {
	if err := v.check(); err != nil {
		return err
	}
	if number == "" || eventID == "" {
		return errors.New("sqlite: ReserveRegistrationNumber: empty number or event id")
	}
	if _, err := v.tx.exec(`INSERT INTO registration_numbers (number, event_id) VALUES (?, ?) ON CONFLICT (number) DO NOTHING`,
		number, eventID); err != nil {
		return fmt.Errorf("sqlite: reserve registration number: %w", err)
	}
	row, err := v.tx.queryRow(`SELECT event_id FROM registration_numbers WHERE number = ?`, number)
	if err != nil {
		return err
	}
	var owner string
	if err := row.Scan(&owner); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: registration number %s vanished", number)
		}
		return fmt.Errorf("sqlite: reserve registration number: %w", err)
	}
	if owner != eventID {
		return fmt.Errorf("sqlite: registration number %s: %w", number, core.ErrRegistrationNumberTaken)
	}
	return nil
}

func (v *txView) ReleaseRegistrationNumber(number, eventID string) error {
	if err := v.check(); err != nil {
		return err
	}
	if _, err := v.tx.exec(`DELETE FROM registration_numbers WHERE number = ? AND event_id = ?`, number, eventID); err != nil {
		return fmt.Errorf("sqlite: release registration number: %w", err)
	}
	return nil
}
