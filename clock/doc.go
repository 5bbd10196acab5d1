// Package clock abstracts time so that every part of dynlimit can run on the
// wall clock in production and on a deterministic fake clock in tests and in
// the simulator.
//
// Nothing in dynlimit calls time.Now or time.NewTimer directly: it asks a
// Clock. [Real] is the wall clock. [Fake] only moves when told to
// ([Fake.Advance], [Fake.Set]) and tells a driver how many timers wait and when
// the next one fires ([Fake.Pending], [Fake.NextDeadline]), so a
// discrete-event driver can jump from event to event and run hours of traffic
// in milliseconds.
package clock
