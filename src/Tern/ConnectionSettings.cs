using Microsoft.Extensions.Logging;
using Tern.Diagnostics;
using Tern.Protocol;

namespace Tern;

/// <summary>
/// What every connection of one server (or one client) shares: limits, timeouts, the logger, the receive budget. One
/// reference per connection instead of a copy of each setting, since an idle connection's every field counts.
/// </summary>
internal sealed class ConnectionSettings
{
    public required long MaxMessageSize { get; init; }

    public required long MaxSendQueueSize { get; init; }

    public required TimeSpan CloseTimeout { get; init; }

    public required ILogger Logger { get; init; }

    public BufferBudget? ReceiveBudget { get; init; }

    public SlowConsumerPolicy SlowConsumerPolicy { get; init; }

    /// <summary>Rate limits for the log lines a crowd of peers can cause, shared by all connections.</summary>
    public LogThrottles LogThrottles { get; init; } = new();

    /// <summary>permessage-deflate settings (what the server accepts or the client offered); null when off.</summary>
    public WebSocketCompressionOptions? Compression { get; init; }

    /// <summary>The server's metrics; null for client connections, which have none.</summary>
    public TernMetrics? Metrics { get; init; }
}
