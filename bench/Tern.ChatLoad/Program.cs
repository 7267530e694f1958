using System.Diagnostics;
using System.Globalization;
using Tern.ChatLoad;

// Load for Tern.Chat on one node or several: accounts in one room, some of them sending, every one receiving and
// checking what it receives. ChatLoadOptions.Usage says what is measured; docs/benchmarks.md has the figures.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(ChatLoadOptions.Usage);
    return 0;
}

ChatLoadOptions options;
try
{
    options = ChatLoadOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException or UriFormatException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine("See --help.");
    return 2;
}

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string tag = "L" + Convert.ToHexString(Guid.NewGuid().ToByteArray(), 0, 4).ToLowerInvariant();
var run = new LoadRun(options, options.Room.Length > 0 ? options.Room : "load-" + tag[1..], tag);
IReadOnlyList<Uri> sites = options.NodeUrls;
LoadClient[] clients;
try
{
    IReadOnlyList<LoadAccount> accounts = await Accounts.GetAsync(options);
    clients = [.. accounts.Select((account, i) => new LoadClient(run, i, account, sites[i % sites.Count]))];
    await ForEachAsync(clients, client => client.ConnectAsync());
    run.Conversation = await clients[0].JoinAsync();
    await ForEachAsync(clients.Skip(1), client => client.JoinAsync());
}
catch (Exception e) when (e is HttpRequestException or InvalidOperationException or System.Net.WebSockets.WebSocketException
    or TimeoutException or OperationCanceledException)
{
    Console.Error.WriteLine($"Setup failed: {e.Message}");
    return 2;
}

Console.WriteLine(
    $"{clients.Length} clients on {sites.Count} address(es) in room '{run.Room}' (conversation {run.Conversation}), " +
    $"{options.Senders} sending, " + (options.Rate > 0 ? $"{options.Rate} msg/s in all" : $"closed loop, window {options.Window} each") +
    $"; {options.Warmup} s warm-up, {options.Duration} s measured");

long start = LoadRun.Now;
run.MeasureStart = start + Seconds(options.Warmup);
run.MeasureEnd = run.MeasureStart + Seconds(options.Duration);
Task[] sending = [.. clients.Take(options.Senders).Select(client => Task.Run(() => client.SendAsync(run.MeasureEnd, options.Rate / options.Senders)))];
Task killing = options.KillPid != 0 ? KillAsync() : Task.CompletedTask;
await Task.WhenAll(sending);
await killing;

// Sending has stopped: how long until every client holds every acknowledged message says whether they kept up.
long stopped = LoadRun.Now;
long drainDeadline = stopped + Seconds(options.Drain);
while (LoadRun.Now < drainDeadline)
{
    // Nothing pending first, then the acknowledged ids: the other way round, an acknowledgement arriving in between
    // would be missing from the list and its message counted as lost by clients it had not reached yet.
    bool nothingPending = clients.All(client => client.PendingCount == 0);
    long[] acknowledged = [.. run.Acks.Keys];
    if (nothingPending && clients.All(client => client.HoldsAll(acknowledged)))
    {
        break;
    }

    await Task.Delay(10);
}

double drainMs = LoadRun.Milliseconds(LoadRun.Now - stopped);
await run.Stopping.CancelAsync();
await Task.WhenAll(clients.Select(client => client.CloseAsync()));

// The figures.
long[] allAcknowledged = [.. run.Acks.Keys];
int measured = run.Acks.Values.Count(ack => run.IsMeasured(ack.SentTicks));
double posted = measured / options.Duration;
double delivered = clients.Sum(client => client.MeasuredDeliveries) / options.Duration;
double[] latencies = [.. clients.SelectMany(client => client.Latencies).Order()];
int lost = clients.Sum(client => allAcknowledged.Count(id => client.HeldSince(id) is null));
int liveDuplicates = clients.Sum(client => client.LiveDuplicates);
int storedDuplicates = clients.Sum(client => client.StoredDuplicates);
int outOfOrder = clients.Sum(client => client.OrderViolations);
int errors = clients.Sum(client => client.Errors);
int unacknowledged = clients.Sum(client => client.PendingCount);

Console.WriteLine($"posted:    {posted:0} msg/s acknowledged ({measured} in the window, {allAcknowledged.Length} in all)");
Console.WriteLine($"delivered: {delivered:0} msg/s to {clients.Length} clients");
Console.WriteLine($"latency:   p50 {Percentile(latencies, 50):0.0} ms, p99 {Percentile(latencies, 99):0.0} ms, max {(latencies.Length > 0 ? latencies[^1] : 0):0.0} ms (send to each receipt)");
Console.WriteLine($"drain:     {drainMs:0} ms after sending stopped until every client held every acknowledged message");
Console.WriteLine($"checks:    lost {lost}, delivered twice on one socket {liveDuplicates}, stored twice {storedDuplicates}, out of order {outOfOrder}, unacknowledged at the end {unacknowledged}, errors {errors}");
foreach (LoadClient client in clients.Where(client => client.FirstError is not null).Take(3))
{
    Console.WriteLine($"  client {client.Index}'s first error: {client.FirstError}");
}

var result = new List<string>
{
    $"nodes={sites.Count}", $"clients={clients.Length}", $"senders={options.Senders}", $"posted={posted:0}", $"delivered={delivered:0}",
    $"p50_ms={Percentile(latencies, 50):0.0}", $"p99_ms={Percentile(latencies, 99):0.0}", $"max_ms={(latencies.Length > 0 ? latencies[^1] : 0):0.0}",
    $"drain_ms={drainMs:0}", $"lost={lost}", $"live_dup={liveDuplicates}", $"stored_dup={storedDuplicates}", $"out_of_order={outOfOrder}",
    $"unacked={unacknowledged}", $"errors={errors}",
};

if (run.KillTicks != 0)
{
    // Catch-up: from the kill until the client, connected again, holds every message acknowledged before its
    // reconnect completed (hello on the new socket). Only the clients whose socket the kill dropped.
    var catchUps = new List<double>();
    var reconnects = new List<double>();
    int overlaps = 0, redelivered = 0;
    foreach (LoadClient client in clients)
    {
        if (client.Outages.FirstOrDefault(outage => outage.Lost >= run.KillTicks) is not { Back: > 0 } outage)
        {
            continue;
        }

        long caughtUp = outage.Back;
        foreach ((long id, Acknowledged ack) in run.Acks)
        {
            if (ack.AckTicks < outage.Back && client.HeldSince(id) is { } held)
            {
                caughtUp = Math.Max(caughtUp, held);
            }
        }

        catchUps.Add(LoadRun.Milliseconds(caughtUp - run.KillTicks));
        reconnects.Add(LoadRun.Milliseconds(outage.Back - run.KillTicks));
        overlaps += client.Overlaps;
        redelivered += client.Redelivered;
    }

    int failedReconnects = clients.Sum(client => client.FailedReconnects);
    if (clients.LastOrDefault(client => client.LastReconnectError is not null) is { } failing)
    {
        Console.WriteLine($"  {failedReconnects} reconnection attempt(s) failed; the last: {failing.LastReconnectError}");
    }

    catchUps.Sort();
    reconnects.Sort();
    Console.WriteLine(
        $"kill:      {catchUps.Count} clients dropped; reconnected after median {Percentile(reconnects, 50):0} ms, longest {(reconnects.Count > 0 ? reconnects[^1] : 0):0} ms; " +
        $"caught up after median {Percentile(catchUps, 50):0} ms, longest {(catchUps.Count > 0 ? catchUps[^1] : 0):0} ms; {overlaps} messages came both live and in a resume page, {redelivered} live on both the old and the new socket (merged by id)");
    result.AddRange([$"killed_clients={catchUps.Count}", $"reconnect_p50_ms={Percentile(reconnects, 50):0}",
        $"reconnect_max_ms={(reconnects.Count > 0 ? reconnects[^1] : 0):0}", $"catchup_p50_ms={Percentile(catchUps, 50):0}",
        $"catchup_max_ms={(catchUps.Count > 0 ? catchUps[^1] : 0):0}", $"overlaps={overlaps}", $"redelivered={redelivered}", $"failed_reconnects={failedReconnects}"]);
    if (catchUps.Count == 0)
    {
        Console.WriteLine("The kill dropped no client's socket: was --kill-pid one of the nodes in --urls?");
        lost++;
    }
}

Console.WriteLine("RESULT " + string.Join(' ', result));
return lost == 0 && liveDuplicates == 0 && storedDuplicates == 0 && outOfOrder == 0 && unacknowledged == 0 && measured > 0 ? 0 : 1;

async Task KillAsync()
{
    long at = run.MeasureStart + Seconds(options.KillAfter);
    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, LoadRun.Milliseconds(at - LoadRun.Now))));
    using Process node = Process.GetProcessById(options.KillPid);
    run.KillTicks = LoadRun.Now;
    node.Kill(); // SIGKILL on Linux: no clean close, the node's sockets are reset by the kernel.
    Console.WriteLine($"killed process {options.KillPid} {options.KillAfter} s into the window");
}

static long Seconds(double seconds) => (long)(seconds * Stopwatch.Frequency);

static double Percentile(IReadOnlyList<double> sorted, double percent) =>
    sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

// Eight at a time: connecting and joining are not what is measured, and the nodes should not see a stampede.
static async Task ForEachAsync(IEnumerable<LoadClient> clients, Func<LoadClient, Task> action)
{
    using var throttle = new SemaphoreSlim(8);
    await Task.WhenAll(clients.Select(async client =>
    {
        await throttle.WaitAsync();
        try
        {
            await action(client);
        }
        finally
        {
            throttle.Release();
        }
    }));
}
