using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>The accept loop's pause after failures: doubling from 5 ms to 1 s, reset by a success, logged once a second at most.</summary>
public sealed class AcceptBackoffTests
{
    private static readonly SocketException OutOfDescriptors = new((int)SocketError.TooManyOpenSockets);

    [Fact]
    public void The_pause_doubles_from_5_ms_to_1_s_and_starts_over_after_a_success()
    {
        var backoff = new AcceptBackoff(new RecordingLoggerFactory().CreateLogger("test"), new IPEndPoint(IPAddress.Loopback, 1));
        double[] delays = Enumerable.Range(0, 10).Select(_ => backoff.OnFailure(OutOfDescriptors).TotalMilliseconds).ToArray();
        Assert.Equal([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000], delays);

        backoff.OnSuccess();
        Assert.Equal(5, backoff.OnFailure(OutOfDescriptors).TotalMilliseconds);
    }

    [Fact]
    public void A_run_of_failures_logs_one_warning_without_a_stack_trace_then_one_line_when_accepting_resumes()
    {
        var log = new RecordingLoggerFactory();
        var backoff = new AcceptBackoff(log.CreateLogger("test"), new IPEndPoint(IPAddress.Loopback, 1));
        for (int i = 0; i < 100; i++)
        {
            backoff.OnFailure(OutOfDescriptors);
        }

        backoff.OnSuccess();
        var entries = log.Entries.ToArray();
        Assert.Equal(2, entries.Length);
        Assert.Equal(LogLevel.Warning, entries[0].Level);
        Assert.Null(entries[0].Exception);
        Assert.Contains("TooManyOpenSockets", entries[0].Message, StringComparison.Ordinal);
        Assert.Contains("backing off 5 ms", entries[0].Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Information, entries[1].Level);
        Assert.Contains("after 100 failed attempts", entries[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failures_a_second_apart_are_each_logged_with_the_count_of_those_not_logged()
    {
        var log = new RecordingLoggerFactory();
        var backoff = new AcceptBackoff(log.CreateLogger("test"), new IPEndPoint(IPAddress.Loopback, 1));
        backoff.OnFailure(OutOfDescriptors);
        backoff.OnFailure(OutOfDescriptors);
        backoff.OnFailure(OutOfDescriptors);
        await Task.Delay(1100);
        backoff.OnFailure(OutOfDescriptors);
        var warnings = log.Entries.Where(e => e.Level == LogLevel.Warning).ToArray();
        Assert.Equal(2, warnings.Length);
        Assert.Contains("(2 more failures since the last line)", warnings[1].Message, StringComparison.Ordinal);
        Assert.Contains("backing off 40 ms", warnings[1].Message, StringComparison.Ordinal);
    }
}
