using System.Diagnostics.Metrics;

namespace Tern.Chat.Cluster;

/// <summary>
/// The <c>Tern.Chat.Fanout</c> meter of one <see cref="PostgresChatFanout"/>: what a node publishes and delivers, how
/// often its listening connection had to reconnect and catch up, and how far delivery is behind.
/// </summary>
internal sealed class FanoutMetrics : IDisposable
{
    /// <summary>The meter's name, to listen to it (<c>dotnet-counters monitor --counters Tern.Chat.Fanout</c>, OpenTelemetry's AddMeter).</summary>
    public const string MeterName = "Tern.Chat.Fanout";

    private readonly Meter _meter;

    public FanoutMetrics(Func<long> queued, Func<bool> listening)
    {
        _meter = new Meter(MeterName, typeof(FanoutMetrics).Assembly.GetName().Version?.ToString());
        Published = _meter.CreateCounter<long>("tern.chat.fanout.published", "{event}", "Events this node published to every node.");
        Delivered = _meter.CreateCounter<long>("tern.chat.fanout.delivered", "{event}", "Events delivered to this node's hub, its own included.");
        CaughtUp = _meter.CreateCounter<long>("tern.chat.fanout.caught_up", "{event}", "Events read back from the table after the listening connection came back, and delivered (not seen live).");
        Reconnects = _meter.CreateCounter<long>("tern.chat.fanout.reconnects", "{reconnect}", "Times the listening connection was made again after it failed.");
        NodesGivenUp = _meter.CreateCounter<long>("tern.chat.fanout.nodes_given_up", "{node}", "Nodes this node found silent past the node timeout and removed.");
        _meter.CreateObservableGauge("tern.chat.fanout.queued", queued, "{event}", "Events received and not yet delivered to this node's hub.");
        _meter.CreateObservableGauge("tern.chat.fanout.listening", () => listening() ? 1 : 0, "{connection}", "1 while the listening connection is up.");
    }

    /// <summary>The meter (one per fan-out, so that the nodes of one process can be told apart).</summary>
    public Meter Meter => _meter;

    public Counter<long> Published { get; }

    public Counter<long> Delivered { get; }

    public Counter<long> CaughtUp { get; }

    public Counter<long> Reconnects { get; }

    public Counter<long> NodesGivenUp { get; }

    public void Dispose() => _meter.Dispose();
}
