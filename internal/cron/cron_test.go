package cron

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func utc(y int, mo time.Month, d, h, m, s int) time.Time {
	return time.Date(y, mo, d, h, m, s, 0, time.UTC)
}

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		expr  string
		after time.Time
		want  time.Time
	}{
		{"every minute", "* * * * *", utc(2024, 1, 1, 10, 0, 0), utc(2024, 1, 1, 10, 1, 0)},
		{"every minute mid-second", "* * * * *", utc(2024, 1, 1, 10, 0, 30), utc(2024, 1, 1, 10, 1, 0)},
		{"every minute year end", "* * * * *", utc(2024, 12, 31, 23, 59, 59), utc(2025, 1, 1, 0, 0, 0)},
		{"quarter hour", "*/15 * * * *", utc(2024, 1, 1, 10, 7, 0), utc(2024, 1, 1, 10, 15, 0)},
		{"quarter hour on boundary", "*/15 * * * *", utc(2024, 1, 1, 10, 15, 0), utc(2024, 1, 1, 10, 30, 0)},
		{"quarter hour wraps hour", "*/15 * * * *", utc(2024, 1, 1, 10, 45, 0), utc(2024, 1, 1, 11, 0, 0)},
		{"weekdays from friday", "0 9 * * MON-FRI", utc(2024, 6, 7, 9, 0, 0), utc(2024, 6, 10, 9, 0, 0)},
		{"weekdays from saturday", "0 9 * * mon-fri", utc(2024, 6, 8, 12, 0, 0), utc(2024, 6, 10, 9, 0, 0)},
		{"weekdays same day", "0 9 * * MON-FRI", utc(2024, 6, 10, 8, 59, 0), utc(2024, 6, 10, 9, 0, 0)},
		{"first of month 31-day", "0 0 1 * *", utc(2024, 1, 31, 12, 0, 0), utc(2024, 2, 1, 0, 0, 0)},
		{"first of month leap feb", "0 0 1 * *", utc(2024, 2, 29, 0, 0, 0), utc(2024, 3, 1, 0, 0, 0)},
		{"first of month 30-day", "0 0 1 * *", utc(2024, 4, 30, 23, 59, 0), utc(2024, 5, 1, 0, 0, 0)},
		{"first of month year end", "0 0 1 * *", utc(2024, 12, 1, 0, 0, 0), utc(2025, 1, 1, 0, 0, 0)},
		{"leap day same year", "0 0 29 2 *", utc(2024, 1, 1, 0, 0, 0), utc(2024, 2, 29, 0, 0, 0)},
		{"leap day next leap year", "0 0 29 2 *", utc(2024, 2, 29, 0, 0, 0), utc(2028, 2, 29, 0, 0, 0)},
		{"leap day skips 2100", "0 0 29 2 *", utc(2097, 3, 1, 0, 0, 0), utc(2104, 2, 29, 0, 0, 0)},
		{"hourly", "@hourly", utc(2024, 1, 1, 10, 0, 0), utc(2024, 1, 1, 11, 0, 0)},
		{"daily", "@daily", utc(2024, 1, 1, 10, 0, 0), utc(2024, 1, 2, 0, 0, 0)},
		{"midnight", "@MIDNIGHT", utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 2, 0, 0, 0)},
		{"weekly is sunday", "@weekly", utc(2024, 6, 5, 10, 0, 0), utc(2024, 6, 9, 0, 0, 0)},
		{"monthly", "@monthly", utc(2024, 2, 15, 0, 0, 0), utc(2024, 3, 1, 0, 0, 0)},
		{"yearly", "@yearly", utc(2024, 1, 1, 0, 0, 0), utc(2025, 1, 1, 0, 0, 0)},
		{"annually", "@annually", utc(2024, 6, 1, 0, 0, 0), utc(2025, 1, 1, 0, 0, 0)},
		// Vixie OR rule: 13th of the month OR any Friday.
		{"or rule friday first", "0 0 13 * 5", utc(2024, 9, 1, 0, 0, 0), utc(2024, 9, 6, 0, 0, 0)},
		{"or rule 13th first", "0 0 13 * 5", utc(2024, 9, 10, 0, 0, 0), utc(2024, 9, 13, 0, 0, 0)},
		{"or rule 13th not friday", "0 0 13 * 5", utc(2024, 8, 10, 0, 0, 0), utc(2024, 8, 13, 0, 0, 0)},
		{"dom only when dow star", "0 0 13 * *", utc(2024, 9, 1, 0, 0, 0), utc(2024, 9, 13, 0, 0, 0)},
		{"dow only when dom star", "0 0 * * 5", utc(2024, 9, 7, 0, 0, 0), utc(2024, 9, 13, 0, 0, 0)},
		{"sunday as 7", "0 0 * * 7", utc(2024, 6, 5, 0, 0, 0), utc(2024, 6, 9, 0, 0, 0)},
		{"friday to sunday range", "0 0 * * 5-7", utc(2024, 6, 8, 12, 0, 0), utc(2024, 6, 9, 0, 0, 0)},
		{"month names list", "0 0 1 jan,Jul *", utc(2024, 2, 1, 0, 0, 0), utc(2024, 7, 1, 0, 0, 0)},
		{"range step", "10-30/10 * * * *", utc(2024, 1, 1, 10, 20, 0), utc(2024, 1, 1, 10, 30, 0)},
		{"range step wraps", "10-30/10 * * * *", utc(2024, 1, 1, 10, 30, 0), utc(2024, 1, 1, 11, 10, 0)},
		{"impossible", "0 0 30 2 *", utc(2024, 1, 1, 0, 0, 0), time.Time{}},
		{"impossible 31 april", "0 0 31 4 *", utc(2024, 1, 1, 0, 0, 0), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.expr)
			require.NoError(t, err)
			got := s.Next(tt.after)
			if tt.want.IsZero() {
				require.True(t, got.IsZero(), "got %v", got)
				return
			}
			require.True(t, tt.want.Equal(got), "want %v, got %v", tt.want, got)
			require.True(t, got.After(tt.after))
			require.True(t, s.matches(got))
		})
	}
}

func TestNextDST(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	london := mustLoad(t, "Europe/London")
	edt := time.FixedZone("EDT", -4*3600)
	est := time.FixedZone("EST", -5*3600)
	bst := time.FixedZone("BST", 1*3600)
	gmt := time.FixedZone("GMT", 0)

	tests := []struct {
		name  string
		loc   *time.Location // after is converted to loc before calling Next
		expr  string
		after time.Time
		want  time.Time
	}{
		{"spring forward skips nonexistent 02:30", ny, "30 2 * * *",
			time.Date(2024, 3, 9, 3, 0, 0, 0, ny), time.Date(2024, 3, 11, 2, 30, 0, 0, edt)},
		{"spring forward from just before gap", ny, "30 2 * * *",
			time.Date(2024, 3, 10, 1, 59, 0, 0, ny), time.Date(2024, 3, 11, 2, 30, 0, 0, edt)},
		{"spring forward existing time unaffected", ny, "30 3 * * *",
			time.Date(2024, 3, 10, 0, 0, 0, 0, ny), time.Date(2024, 3, 10, 3, 30, 0, 0, edt)},
		{"every minute across gap", ny, "* * * * *",
			time.Date(2024, 3, 10, 1, 59, 0, 0, ny), time.Date(2024, 3, 10, 3, 0, 0, 0, edt)},
		{"fall back first occurrence", ny, "30 1 * * *",
			time.Date(2024, 11, 3, 0, 0, 0, 0, ny), time.Date(2024, 11, 3, 1, 30, 0, 0, edt)},
		{"fall back runs once", ny, "30 1 * * *",
			time.Date(2024, 11, 3, 1, 30, 0, 0, edt), time.Date(2024, 11, 4, 1, 30, 0, 0, est)},
		{"fall back from inside repeated hour", ny, "30 1 * * *",
			time.Date(2024, 11, 3, 1, 10, 0, 0, est), time.Date(2024, 11, 4, 1, 30, 0, 0, est)},
		{"every minute at end of first 01:59", ny, "* * * * *",
			time.Date(2024, 11, 3, 1, 59, 0, 0, edt), time.Date(2024, 11, 3, 2, 0, 0, 0, est)},
		{"london spring forward skips 01:30", london, "30 1 * * *",
			time.Date(2024, 3, 30, 12, 0, 0, 0, london), time.Date(2024, 4, 1, 1, 30, 0, 0, bst)},
		{"london hourly across gap", london, "0 * * * *",
			time.Date(2024, 3, 31, 0, 0, 0, 0, london), time.Date(2024, 3, 31, 2, 0, 0, 0, bst)},
		{"london fall back", london, "30 1 * * *",
			time.Date(2024, 10, 27, 1, 30, 0, 0, bst), time.Date(2024, 10, 28, 1, 30, 0, 0, gmt)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.expr)
			require.NoError(t, err)
			after := tt.after.In(tt.loc)
			got := s.Next(after)
			require.True(t, tt.want.Equal(got), "want %v, got %v", tt.want, got)
			require.Equal(t, after.Location(), got.Location())
			require.True(t, s.matches(got))
		})
	}
}

func TestNextAfterInstantInLocation(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	s, err := Parse("30 1 * * *")
	require.NoError(t, err)
	// 2024-11-03 06:10 UTC is 01:10 EST, inside the repeated hour, after 01:30 EDT.
	got := s.Next(time.Date(2024, 11, 3, 6, 10, 0, 0, time.UTC).In(ny))
	require.True(t, time.Date(2024, 11, 4, 6, 30, 0, 0, time.UTC).Equal(got), "got %v", got)
}

func TestNextHourlyAcrossFallBack(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	s, err := Parse("0 * * * *")
	require.NoError(t, err)
	cur := time.Date(2024, 11, 2, 23, 30, 0, 0, ny)
	var got []time.Time
	for range 5 {
		cur = s.Next(cur)
		got = append(got, cur.UTC())
	}
	// 00:00 EDT, 01:00 EDT, (01:00 EST is a repeat of the 01:00 wall time and
	// is not run again), 02:00 EST, 03:00 EST, 04:00 EST.
	want := []time.Time{
		utc(2024, 11, 3, 4, 0, 0),
		utc(2024, 11, 3, 5, 0, 0),
		utc(2024, 11, 3, 7, 0, 0),
		utc(2024, 11, 3, 8, 0, 0),
		utc(2024, 11, 3, 9, 0, 0),
	}
	require.Equal(t, want, got)
	for i := 1; i < len(got); i++ {
		require.True(t, got[i].After(got[i-1]))
	}
}

func TestNextStrictlyAfter(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	for _, expr := range []string{"* * * * *", "*/5 * * * *", "0 9 * * MON-FRI", "@daily", "0 0 13 * 5", "0 * * * *"} {
		s, err := Parse(expr)
		require.NoError(t, err)
		cur := time.Date(2024, 10, 31, 0, 0, 0, 0, ny)
		for range 200 {
			next := s.Next(cur)
			require.True(t, next.After(cur), "%s: %v not after %v", expr, next, cur)
			require.True(t, s.matches(next), "%s: %v", expr, next)
			require.Equal(t, 0, next.Second())
			cur = next
		}
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{"*/15 * * * *", "@weekly", "0 9 * * MON-FRI"} {
		s, err := Parse(expr)
		require.NoError(t, err)
		require.Equal(t, expr, s.String())
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want string
	}{
		{"* * * *", `cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4 in "* * * *"`},
		{"* * * * * *", `got 6`},
		{"", `got 0`},
		{"0 25 * * *", `cron: hour field "25": value 25 out of range 0-23`},
		{"60 * * * *", `cron: minute field "60": value 60 out of range 0-59`},
		{"* * 0 * *", `cron: day-of-month field "0": value 0 out of range 1-31`},
		{"* * 32 * *", `cron: day-of-month field "32": value 32 out of range 1-31`},
		{"* * * 13 *", `cron: month field "13": value 13 out of range 1-12`},
		{"* * * * 8", `cron: day-of-week field "8": value 8 out of range 0-7`},
		{"* * * FOO *", `cron: month field "FOO": invalid value "FOO" (allowed: 1-12 or JAN-DEC)`},
		{"* * * * FUNDAY", `cron: day-of-week field "FUNDAY": invalid value "FUNDAY" (allowed: 0-7 (0 and 7 are Sunday) or SUN-SAT)`},
		{"* * * * JAN", `cron: day-of-week field "JAN": invalid value "JAN"`},
		{"* * MON * *", `cron: day-of-month field "MON": invalid value "MON" (allowed: 1-31)`},
		{"*/0 * * * *", `cron: minute field "*/0": step 0 must be at least 1`},
		{"1-5/x * * * *", `cron: minute field "1-5/x": invalid step "x"`},
		{"5/15 * * * *", `cron: minute field "5/15": step "/15" requires a range or *`},
		{"* 5-3 * * *", `cron: hour field "5-3": range start 5 is greater than end 3`},
		{"* * * * FRI-MON", `cron: day-of-week field "FRI-MON": range start 5 is greater than end 1`},
		{"1,,2 * * * *", `cron: minute field "1,,2": empty list element`},
		{"1- * * * *", `cron: minute field "1-": missing value`},
		{"-1 * * * *", `cron: minute field "-1": missing value`},
		{"+1 * * * *", `cron: minute field "+1": invalid value "+1"`},
		{"99999999999999999999 * * * *", `cron: minute field "99999999999999999999": invalid value`},
		{"@fortnightly", `cron: unknown descriptor "@fortnightly"`},
		{"@", `cron: unknown descriptor "@"`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.expr)
			require.Nil(t, s)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "*/15 * * * *", "0 9 * * MON-FRI", "0 0 1 * *", "0 0 29 2 *",
		"0 0 13 * 5", "30 2 * * *", "0 0 30 2 *", "1-59/7 0-23/5 1,15,31 JAN-DEC/2 0-7",
		"@hourly", "@yearly", "@bogus", "*/0 * * * *", "5-3 * * * *", "* * * *",
		"0 0 * * sun,7", "*/2 * */3 * *",
	} {
		f.Add(seed)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	from := time.Date(2024, 11, 3, 1, 17, 23, 0, ny)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse(%q) returned schedule and error %v", expr, err)
			}
			return
		}
		if s.String() != expr {
			t.Fatalf("String() = %q, want %q", s.String(), expr)
		}
		next := s.Next(from)
		if next.IsZero() {
			return
		}
		if !next.After(from) {
			t.Fatalf("Parse(%q).Next(%v) = %v, not after", expr, from, next)
		}
		if !s.matches(next) {
			t.Fatalf("Parse(%q).Next(%v) = %v, does not match", expr, from, next)
		}
	})
}
