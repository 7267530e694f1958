using System.Threading.RateLimiting;
using Tern.Chat.Protocol;

namespace Tern.Chat.Hub;

/// <summary>
/// The hub's rate limits (System.Threading.RateLimiting): messages per account and per client address, requests per
/// connection (sliding windows), the bytes of history and search a connection and an account may pull (token buckets
/// with bytes as tokens), and rooms created per account and per address (token buckets refilling evenly). Each answers a refusal with the <c>rate_limited</c> error to send.
/// </summary>
/// <remarks>
/// The partitions are created on demand and dropped by the limiters once idle; one shared timer replenishes them all
/// (<c>AutoReplenishment</c> is off in each partition so that thousands of connections do not mean thousands of timers).
/// The limiters use the real clock.
/// </remarks>
internal sealed class ChatRateLimits : IAsyncDisposable
{
    private const int SegmentsPerWindow = 10;

    private readonly ChatHubOptions _options;
    private readonly PartitionedRateLimiter<long> _accounts;
    private readonly PartitionedRateLimiter<string> _addresses;
    private readonly PartitionedRateLimiter<long> _requests;
    private readonly PartitionedRateLimiter<long> _pulls;
    private readonly PartitionedRateLimiter<long> _accountPulls;
    private readonly PartitionedRateLimiter<long> _roomCreations;
    private readonly PartitionedRateLimiter<string> _addressRoomCreations;

    public ChatRateLimits(ChatHubOptions options)
    {
        _options = options;
        _accounts = PartitionedRateLimiter.Create<long, long>(id => RateLimitPartition.GetSlidingWindowLimiter(id, _ => Window(options.RateLimitCount)));
        _addresses = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetSlidingWindowLimiter(address, _ => Window(options.AddressRateLimitCount)));
        _requests = PartitionedRateLimiter.Create<long, long>(client => RateLimitPartition.GetSlidingWindowLimiter(client, _ => Window(options.RequestLimitCount)));
        _pulls = PartitionedRateLimiter.Create<long, long>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ => Bytes(options.PullBudgetBytes)));
        _accountPulls = PartitionedRateLimiter.Create<long, long>(account => RateLimitPartition.GetTokenBucketLimiter(account, _ => Bytes(options.AccountPullBudgetBytes)));
        _roomCreations = PartitionedRateLimiter.Create<long, long>(account => RateLimitPartition.GetTokenBucketLimiter(account, _ => Evenly(options.RoomCreationLimit)));
        _addressRoomCreations = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => Evenly(options.AddressRoomCreationLimit)));
    }

    /// <summary>Counts one frame of a connection, whatever it is (garbage included); null when allowed.</summary>
    public ErrorMessage? TryRequest(long clientId, string? clientRef, long? conversation)
    {
        using RateLimitLease lease = _requests.AttemptAcquire(clientId);
        return lease.IsAcquired ? null : ChatErrors.RequestsLimited(_options.RequestLimitCount, _options.RateLimitWindow, RetryAfter(lease), clientRef, conversation);
    }

    /// <summary>Counts one message of an account from an address; null when both limits allow it.</summary>
    public ErrorMessage? TryMessage(long accountId, string address, string? clientRef, long? conversation)
    {
        // A full address refuses before the account pays for the attempt: a busy neighbour behind the same NAT should
        // not also eat this person's own allowance.
        if (_addresses.GetStatistics(address)?.CurrentAvailablePermits <= 0)
        {
            using RateLimitLease probe = _addresses.AttemptAcquire(address);
            if (!probe.IsAcquired)
            {
                return ChatErrors.AddressRateLimited(_options.AddressRateLimitCount, _options.RateLimitWindow, RetryAfter(probe), clientRef, conversation);
            }
        }

        using (RateLimitLease account = _accounts.AttemptAcquire(accountId))
        {
            if (!account.IsAcquired)
            {
                return ChatErrors.RateLimited(_options.RateLimitCount, _options.RateLimitWindow, RetryAfter(account), clientRef, conversation);
            }
        }

        using RateLimitLease byAddress = _addresses.AttemptAcquire(address);
        return byAddress.IsAcquired
            ? null
            : ChatErrors.AddressRateLimited(_options.AddressRateLimitCount, _options.RateLimitWindow, RetryAfter(byAddress), clientRef, conversation);
    }

    /// <summary>
    /// Whether the connection and its account have any pull budget left (checked before reading the store, so an
    /// exhausted budget costs no query).
    /// </summary>
    public ErrorMessage? CheckPull(long clientId, long accountId, string? clientRef, long? conversation)
    {
        if (_accountPulls.GetStatistics(accountId)?.CurrentAvailablePermits <= 0)
        {
            using RateLimitLease account = _accountPulls.AttemptAcquire(accountId);
            if (!account.IsAcquired)
            {
                return AccountPullRefusal(account, clientRef, conversation);
            }
        }

        if (_pulls.GetStatistics(clientId)?.CurrentAvailablePermits > 0)
        {
            return null;
        }

        using RateLimitLease lease = _pulls.AttemptAcquire(clientId);
        return lease.IsAcquired ? null : PullRefusal(lease, clientRef, conversation);
    }

    /// <summary>
    /// Spends pull budget on an answer of <paramref name="bytes"/>: the connection's, then its account's (all its
    /// connections share one, so a hundred sockets do not pull a hundred budgets); null when both had enough.
    /// </summary>
    public ErrorMessage? TryPull(long clientId, long accountId, int bytes, string? clientRef, long? conversation)
    {
        using (RateLimitLease lease = _pulls.AttemptAcquire(clientId, Math.Clamp(bytes, 1, _options.PullBudgetBytes)))
        {
            if (!lease.IsAcquired)
            {
                return PullRefusal(lease, clientRef, conversation);
            }
        }

        using RateLimitLease account = _accountPulls.AttemptAcquire(accountId, Math.Clamp(bytes, 1, _options.AccountPullBudgetBytes));
        return account.IsAcquired ? null : AccountPullRefusal(account, clientRef, conversation);
    }

    /// <summary>
    /// Whether the account and its address may create another room (looked at, not spent: a name that turns out to
    /// exist, or the server's limit, costs nothing); <see cref="RecordRoomCreation"/> spends once a room is made.
    /// </summary>
    public ErrorMessage? CheckRoomCreation(long accountId, string address, string? clientRef)
    {
        if (_roomCreations.GetStatistics(accountId) is { CurrentAvailablePermits: < 1 })
        {
            using RateLimitLease account = _roomCreations.AttemptAcquire(accountId);
            if (!account.IsAcquired)
            {
                return ChatErrors.RoomCreationLimited(_options.RoomCreationLimit, _options.RoomCreationWindow, byAddress: false, RetryAfter(account), clientRef);
            }
        }

        if (_addressRoomCreations.GetStatistics(address) is { CurrentAvailablePermits: < 1 })
        {
            using RateLimitLease byAddress = _addressRoomCreations.AttemptAcquire(address);
            if (!byAddress.IsAcquired)
            {
                return ChatErrors.RoomCreationLimited(_options.AddressRoomCreationLimit, _options.RoomCreationWindow, byAddress: true, RetryAfter(byAddress), clientRef);
            }
        }

        return null;
    }

    /// <summary>Counts a room created by the account from the address.</summary>
    public void RecordRoomCreation(long accountId, string address)
    {
        using RateLimitLease account = _roomCreations.AttemptAcquire(accountId);
        using RateLimitLease byAddress = _addressRoomCreations.AttemptAcquire(address);
    }

    public async ValueTask DisposeAsync()
    {
        await _accounts.DisposeAsync().ConfigureAwait(false);
        await _addresses.DisposeAsync().ConfigureAwait(false);
        await _requests.DisposeAsync().ConfigureAwait(false);
        await _pulls.DisposeAsync().ConfigureAwait(false);
        await _accountPulls.DisposeAsync().ConfigureAwait(false);
        await _roomCreations.DisposeAsync().ConfigureAwait(false);
        await _addressRoomCreations.DisposeAsync().ConfigureAwait(false);
    }

    private ErrorMessage PullRefusal(RateLimitLease lease, string? clientRef, long? conversation) =>
        ChatErrors.PullLimited(_options.PullBudgetBytes, _options.RateLimitWindow, RetryAfter(lease), clientRef, conversation);

    private ErrorMessage AccountPullRefusal(RateLimitLease lease, string? clientRef, long? conversation) =>
        ChatErrors.AccountPullLimited(_options.AccountPullBudgetBytes, _options.RateLimitWindow, RetryAfter(lease), clientRef, conversation);

    /// <summary>A budget of bytes (tokens) that refills a tenth of itself every tenth of the window.</summary>
    private TokenBucketRateLimiterOptions Bytes(int budget) => new()
    {
        TokenLimit = budget,
        TokensPerPeriod = Math.Max(1, budget / SegmentsPerWindow),
        ReplenishmentPeriod = _options.RateLimitWindow / SegmentsPerWindow,
        QueueLimit = 0,
        AutoReplenishment = false,
    };

    /// <summary>A budget of <paramref name="permits"/> per <see cref="ChatHubOptions.RoomCreationWindow"/> that refills one at a time, evenly.</summary>
    private TokenBucketRateLimiterOptions Evenly(int permits) => new()
    {
        TokenLimit = permits,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = _options.RoomCreationWindow / permits,
        QueueLimit = 0,
        AutoReplenishment = false,
    };

    private SlidingWindowRateLimiterOptions Window(int permits) => new()
    {
        PermitLimit = permits,
        Window = _options.RateLimitWindow,
        SegmentsPerWindow = SegmentsPerWindow,
        QueueLimit = 0,
        AutoReplenishment = false,
    };

    /// <summary>The limiter's own estimate when it gives one, else one segment of the window (when permits come back next).</summary>
    private TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter) && retryAfter > TimeSpan.Zero
            ? retryAfter
            : _options.RateLimitWindow / SegmentsPerWindow;
}
