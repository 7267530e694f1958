using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;

namespace Tern.Chat.Accounts;

/// <summary>The answer of <see cref="SignInThrottle"/>: go ahead, or wait <see cref="RetryAfter"/>.</summary>
/// <param name="Allowed">True when the attempt may proceed.</param>
/// <param name="RetryAfter">When refused, how long until an attempt would be allowed.</param>
public readonly record struct ThrottleDecision(bool Allowed, TimeSpan RetryAfter)
{
    /// <summary>Go ahead.</summary>
    public static ThrottleDecision Allow { get; } = new(true, TimeSpan.Zero);
}

/// <summary>
/// Limits sign-in and sign-up attempts per client address (every attempt counts) and failed sign-ins per account name
/// (successes are free, so the owner of a name under attack can still get in once the allowance refills). Token
/// buckets from System.Threading.RateLimiting, partitioned by address and by name key; idle partitions are dropped by
/// the partitioned limiter itself. Thread-safe.
/// </summary>
public sealed class SignInThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _addresses;
    private readonly PartitionedRateLimiter<string> _nameFailures;
    private readonly PartitionedRateLimiter<IPAddress> _signUps;

    /// <summary>Creates the limiters from <paramref name="options"/>.</summary>
    public SignInThrottle(AccountOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        TokenBucketRateLimiterOptions addressBucket = Bucket(options.AddressAttemptLimit, options.AddressAttemptWindow);
        TokenBucketRateLimiterOptions nameBucket = Bucket(options.NameFailureLimit, options.NameFailureWindow);
        _addresses = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => addressBucket));
        _nameFailures = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => nameBucket), StringComparer.Ordinal);
        TokenBucketRateLimiterOptions signUpBucket = Bucket(options.SignUpLimit, options.SignUpWindow);
        _signUps = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => signUpBucket));
    }

    /// <summary>
    /// Counts an attempt from <paramref name="address"/> and, when <paramref name="usernameKey"/> is given, checks
    /// (without counting) that the name has failures to spare. Refused attempts are not counted.
    /// </summary>
    public ThrottleDecision TryBeginAttempt(IPAddress address, string? usernameKey)
    {
        ArgumentNullException.ThrowIfNull(address);
        // Looks without taking: a whole failure must be left. (Acquiring zero permits is no test here: a partitioned
        // token bucket refills in fractions, and answers yes to zero while any fraction of a token is left.)
        if (usernameKey is not null && _nameFailures.GetStatistics(usernameKey) is { CurrentAvailablePermits: < 1 })
        {
            // Asking for one gives the time until it comes; it only succeeds if one came in the meantime, and then
            // counts as a failure in advance, which errs on the safe side.
            using RateLimitLease nameLease = _nameFailures.AttemptAcquire(usernameKey);
            if (!nameLease.IsAcquired)
            {
                return Refused(nameLease);
            }
        }

        using RateLimitLease addressLease = _addresses.AttemptAcquire(PartitionOf(address));
        return addressLease.IsAcquired ? ThrottleDecision.Allow : Refused(addressLease);
    }

    /// <summary>
    /// Checks (without counting) that <paramref name="address"/> may still create an account; call
    /// <see cref="RecordSignUp"/> once one is made. Two sign-ups racing past the check may both succeed, which costs
    /// one account at most per password-hashing slot.
    /// </summary>
    public ThrottleDecision CheckSignUp(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        IPAddress partition = PartitionOf(address);
        if (_signUps.GetStatistics(partition) is not { CurrentAvailablePermits: < 1 })
        {
            return ThrottleDecision.Allow;
        }

        // As in TryBeginAttempt: asking for one tells when it comes, and takes it only if it came meanwhile.
        using RateLimitLease lease = _signUps.AttemptAcquire(partition);
        return lease.IsAcquired ? ThrottleDecision.Allow : Refused(lease);
    }

    /// <summary>Counts an account created from <paramref name="address"/>.</summary>
    public void RecordSignUp(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        using RateLimitLease _ = _signUps.AttemptAcquire(PartitionOf(address));
    }

    /// <summary>Counts a failed sign-in against the name.</summary>
    public void RecordFailure(string usernameKey)
    {
        ArgumentNullException.ThrowIfNull(usernameKey);
        using RateLimitLease _ = _nameFailures.AttemptAcquire(usernameKey);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _addresses.Dispose();
        _nameFailures.Dispose();
        _signUps.Dispose();
    }

    /// <summary>The address itself for IPv4 (an IPv4-mapped IPv6 address counts as IPv4), its /64 for IPv6.</summary>
    internal static IPAddress PartitionOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        byte[] bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    private static TokenBucketRateLimiterOptions Bucket(int limit, TimeSpan window) => new()
    {
        TokenLimit = limit,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = window / limit,
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static ThrottleDecision Refused(RateLimitLease lease)
    {
        // The token bucket always reports when its next token comes; a second is the floor Retry-After can say.
        TimeSpan retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : TimeSpan.FromSeconds(1);
        return new ThrottleDecision(false, retryAfter < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : retryAfter);
    }
}
