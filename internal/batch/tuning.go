package batch

import "time"

// The tuning numbers of the engine, each with the reason for its value and
// an honest word on how arbitrary it is (in the manner of River's
// JobRescuerRescueAfterDefault and net/http's rstAvoidanceDelay). A duration
// said to be "in API time" is multiplied by RunConfig.TimeScale; a "floor"
// bounds such a scaled duration from below, because a loaded machine needs
// real time whatever the emulated clock does, and exists only for scaled runs
// (at TimeScale 1 none applies).

// Defaults of RunConfig.
const (
	// DefaultConcurrency is the default RunConfig.Concurrency: AssemblyAI's
	// limit of concurrent transcripts on a free account. Paid accounts allow
	// more; the default only has to be safe.
	DefaultConcurrency = 5

	// DefaultUploadConcurrency is the default RunConfig.UploadConcurrency and
	// UploadConfig.Concurrency: one upload can go on while another is slow,
	// and the uplink is not split into many slow transfers. A judgement
	// with no measurement behind it.
	DefaultUploadConcurrency = 2

	// DefaultRequestsPerSecond is the default RunConfig.RequestsPerSecond
	// (per second of API time): 15,000 requests per 5 minutes, 75 % of the
	// API's 20,000, leaving room for other clients of the account. The 75 %
	// is a round share, not derived from anything.
	DefaultRequestsPerSecond = 50

	// DefaultRetryFor is the default RunConfig.RetryFor: a day is long enough
	// for an outage and an unattended night, short enough that a file that
	// cannot succeed is reported the next day. Round, not derived.
	DefaultRetryFor = 24 * time.Hour

	// DefaultJobTimeout is the default RunConfig.JobTimeout. The longest
	// single attempt is the upload of a large file; ten minutes covers a
	// gigabyte on a 20 Mbit/s uplink (about 7 minutes). A round number, not
	// measured.
	DefaultJobTimeout = 10 * time.Minute

	// DefaultRescueMargin is how much later than JobTimeout
	// RunConfig.RescueAfter defaults to: River's rescuer must not run again
	// a job whose attempt may still be running up to its timeout (and being
	// cancelled after it). Two minutes is generous and round; it is paid
	// only after a crash that SQLite's worker lock or PostgreSQL's
	// heartbeat did not already catch.
	DefaultRescueMargin = 2 * time.Minute

	// DefaultProgressEvery is the default RunConfig.ProgressEvery: often
	// enough for progress lines a person reads, rarely enough that counting
	// the store costs nothing. Arbitrary.
	DefaultProgressEvery = 2 * time.Second

	// DefaultConsecutiveFailures is RunConfig.Breaker.ConsecutiveFailures
	// when zero. 5 host failures in a row are rare by chance even on a sick
	// API (one request in 5 failing: 3 in 10,000 runs of 5), and an outage
	// trips at once.
	DefaultConsecutiveFailures = 5
)

// Gates: how jobs wait for an upload slot or a transcript slot.
const (
	// DefaultUploadGateRate and DefaultSlotGateRate are the rates (per
	// second) at which jobs turned away at the upload gate and the
	// transcript-slot gate come back by themselves, whatever their number:
	// each snoozes a uniform random share of count/rate, so returns are
	// spread evenly, while 10,000 queued files cost only
	// DefaultUploadGateRate job runs per second. Files turned away at the
	// upload gate are woken by the upload pump, lowest id first, as soon as
	// there is room; their own return is the backstop (other processes,
	// restarts), kept rare because a job back by itself takes the room from
	// the one the pump woke, in random order (at 50 per second, the
	// largest-first order under load was close to random). Uploaded files
	// waiting for a transcript slot (at most --concurrency of them) come
	// back faster: an idle slot is idle API capacity. Both were chosen by
	// trial in the bench, not derived.
	DefaultUploadGateRate = 10
	DefaultSlotGateRate   = 400

	// DefaultGateDelayMin is the shortest snooze of a gated job: never zero,
	// which would make it available again before the slot it lacks could
	// have freed. Any small value would do.
	DefaultGateDelayMin = 2 * time.Millisecond

	// DefaultSlotRecheck (API time, floor DefaultSlotRecheckFloor) is how
	// often a job waiting in-process for a slot asks the store again: a slot
	// freed by another process sharing the store sends no wake-up here. A
	// second is a slot idle at most that long for one cheap query per
	// waiter; round.
	DefaultSlotRecheck      = time.Second
	DefaultSlotRecheckFloor = 20 * time.Millisecond

	// DefaultSlotPatience (API time, floor DefaultSlotPatienceFloor) is how
	// long a job waits in-process for a slot before it snoozes: about a
	// round of transcripts, so that a file uploaded just after every slot
	// was taken is still waiting when the round ends (with 5 s, files
	// waiting for transcripts of 6 s or more snoozed and came back through
	// River up to a fetch interval after their slot had freed). A minute is
	// a rough round length, not a measured one.
	DefaultSlotPatience      = time.Minute
	DefaultSlotPatienceFloor = 50 * time.Millisecond

	// DefaultMinSlotWaiters is the fewest jobs that may wait in-process for
	// a transcript slot (see slotWaiters), so that a --concurrency of 1
	// still has a spare waiter. A floor chosen by hand, not derived.
	DefaultMinSlotWaiters = 2

	// DefaultPumpWakeFactor bounds the jobs the upload pump wakes at once to
	// this many times UploadConcurrency, so that woken jobs find an upload
	// slot rather than snooze again. A judgement, not measured.
	DefaultPumpWakeFactor = 2

	// DefaultWokenTTL is how long a job woken by the upload pump counts as
	// on its way: one that has not run by then (another process took it, or
	// it finished) no longer holds back further wake-ups. A woken job is
	// fetched within about a fetch poll (DefaultFetchPollInterval); a second
	// is four of those, room for a loaded machine. Round.
	DefaultWokenTTL = time.Second

	// DefaultBacklogRefresh (API time, floor DefaultBacklogRefreshFloor) is
	// how often a run counts the files waiting for an upload or a
	// transcript slot (for the gate delays) and, with UntilDone, checks
	// whether the work is over: one count query a second; round.
	DefaultBacklogRefresh      = time.Second
	DefaultBacklogRefreshFloor = 50 * time.Millisecond
)

// River's fetch timings and the polls of waiting transcripts.
const (
	// DefaultFetchCooldown and DefaultFetchPollInterval (API time, floors
	// DefaultFetchCooldownFloor and DefaultFetchPollIntervalFloor, and never
	// above themselves) are River's FetchCooldown and FetchPollInterval for a
	// run: a job whose snooze ended is picked up at the next fetch poll. The
	// cooldown is River's own default (FetchCooldownDefault); the poll
	// interval is a quarter of River's FetchPollIntervalDefault (1 s),
	// because every snoozed poll and gated job waits for it (pollLead hides
	// the rest). Not tuned beyond that.
	DefaultFetchCooldown          = 100 * time.Millisecond
	DefaultFetchCooldownFloor     = 10 * time.Millisecond
	DefaultFetchPollInterval      = 250 * time.Millisecond
	DefaultFetchPollIntervalFloor = 20 * time.Millisecond

	// DefaultInProcessPoll is the longest wait for a next poll that a job
	// spends in-process rather than snoozed (when pollLead is shorter): a
	// poll due within a second, a transcript just past its expected end, is
	// sent when due rather than up to a fetch interval late. A worker held a
	// second is cheap; round.
	DefaultInProcessPoll = time.Second

	// DefaultPollRateShare is the share of RunConfig.RequestsPerSecond that
	// the polls of all transcripts in flight may use (see pollDelay): half,
	// leaving the rest for uploads, creates and retries. A round split.
	DefaultPollRateShare = 0.5

	// DefaultStopSnooze is the snooze of a job that finds the run stopping
	// (or stops it: a 401): not zero, which would have this run's River,
	// still fetching until it stops, run it again at once and again; short,
	// so that the next run finds it available. Any value well under
	// StopGrace would do.
	DefaultStopSnooze = time.Second
)

// Waking the jobs that waited out an open breaker.
const (
	// DefaultWakePage is how many jobs one JobList call of wakeParked reads:
	// large enough that a typical batch's retryable jobs come in one page,
	// small enough for one quick query. Round.
	DefaultWakePage = 500
)

// DefaultWakePasses returns the waits before each pass of wakeParkedLocked
// after the breaker closed, one after the other: about 0, 20 ms, 70 ms,
// 170 ms, 0.4 s, 0.9 s, 1.9 s and 5 s after the close. A job that failed just
// before the close may still be "running" in the store while River's
// completer has its result in a batch not yet written; later passes catch it,
// soon, because each such job holds a transcript slot or its file back from
// the recovered API (a pass only after 1 s left full throughput 1.6-3.4 s
// late in the bench's outage). The roughly doubling spacing is a judgement.
func DefaultWakePasses() []time.Duration {
	return []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		250 * time.Millisecond, 500 * time.Millisecond, time.Second, 3 * time.Second}
}

// Calibration of the processing-time estimate (see calibration).
const (
	// DefaultCalibrateEvery is how many files done make one list request:
	// one request per 25 files, about 0.04 per file. Arbitrary, small.
	DefaultCalibrateEvery = 25
	// DefaultCalibrateMin is how many samples are needed before the
	// estimate is scaled at all: fewer would let one odd transcript move
	// every first poll. A judgement.
	DefaultCalibrateMin = 10
	// DefaultCalibrateWindow is how many of the latest samples the median is
	// taken over: long enough to be steady, short enough to follow a change
	// of the API's speed within a few hundred files. Round.
	DefaultCalibrateWindow = 200
	// DefaultCalibrateLimit is the page size of the list request (the
	// newest completed transcripts): four times DefaultCalibrateEvery, room
	// to find the files done since the last list even with other work on
	// the account. A judgement.
	DefaultCalibrateLimit = 100
	// DefaultCalibrateBound keeps the scale within [1/5, 5]: a few odd
	// samples (a transcript queued behind another account's work) must not
	// make every first poll absurd. Arbitrary.
	DefaultCalibrateBound = 5
	// DefaultCalibratePending bounds the finished transcripts waiting to be
	// seen in a list (the oldest are dropped): ten pages' worth, a memory
	// bound rather than a tuning.
	DefaultCalibratePending = 1000
	// DefaultCalibrateListTimeout bounds the list request and the save of
	// its result, which run in the background: a slow list only delays the
	// next calibration. Generous and round.
	DefaultCalibrateListTimeout = time.Minute
)

// Webhooks.
const (
	// DefaultWebhookRedelivery (API time) is about the spacing of
	// AssemblyAI's redeliveries of a notification (the emulator models 10 s;
	// this adds margin): a job with webhooks on polls without a notification
	// this much, plus half its poll delay again, later than it would without
	// them (see webhookFallback), so that one lost delivery does not make it
	// poll. Not measured against the real API.
	DefaultWebhookRedelivery = 15 * time.Second

	// DefaultWebhookWait is the longest in-process wait for a notification
	// (also at most a quarter of JobTimeout, DefaultWebhookWaitDivisor); a job
	// whose fallback poll is further away snoozes after it, and the
	// notification wakes it through River. Well under JobTimeout and
	// RescueAfter; otherwise arbitrary.
	DefaultWebhookWait        = 2 * time.Minute
	DefaultWebhookWaitDivisor = 4

	// DefaultWebhookWakeTimeout bounds the two queue calls that wake a
	// notified job (JobGet, JobRetry): local database calls that take
	// milliseconds; ten seconds only keeps a stuck database from holding a
	// goroutine. Round.
	DefaultWebhookWakeTimeout = 10 * time.Second

	// DefaultWebhookReadTimeout is the webhook server's ReadHeaderTimeout
	// and ReadTimeout: a notification is a small JSON body sent at once, so
	// ten seconds is ample and keeps a slow or idle client from holding a
	// connection. Round.
	DefaultWebhookReadTimeout = 10 * time.Second

	// DefaultWebhookNoticeTTL is how long a notification that came before
	// its job waited for it is kept: longer than any poll delay, short
	// enough that the map of unclaimed notices stays small. Generous and
	// round.
	DefaultWebhookNoticeTTL = 10 * time.Minute

	// DefaultWebhookUnreachedAfter is how many transcripts end without a
	// single notification before the run warns that webhooks do not reach
	// it: more than one or two, which a slow first delivery could explain.
	// A judgement.
	DefaultWebhookUnreachedAfter = 5

	// DefaultWebhookRefusedWarnings is how many requests without the secret
	// are warned about; the rest are logged at debug level, so that a
	// stranger cannot flood the logs. Any small number would do.
	DefaultWebhookRefusedWarnings = 3
)

// DefaultHeartbeatsPerLease is how many heartbeats a PostgreSQL worker sends
// per OwnerLease: three, so that one or two missed beats (a slow database
// round trip) never cost the lease. The usual choice for leases, not tuned.
const DefaultHeartbeatsPerLease = 3
