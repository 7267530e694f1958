using System.Net;
using Tern.Chat.Accounts;

namespace Tern.Chat.Tests.Accounts;

public sealed class SignInThrottleTests
{
    private static readonly IPAddress s_client = IPAddress.Parse("192.0.2.1");

    [Fact]
    public void Failures_per_name_are_limited_and_successes_are_free()
    {
        using var throttle = new SignInThrottle(new AccountOptions { NameFailureLimit = 3, NameFailureWindow = TimeSpan.FromMinutes(15), AddressAttemptLimit = 1000 });

        // Checking alone (a success) never uses the allowance.
        for (int i = 0; i < 10; i++)
        {
            Assert.True(throttle.TryBeginAttempt(s_client, "alice").Allowed);
        }

        for (int i = 0; i < 3; i++)
        {
            Assert.True(throttle.TryBeginAttempt(s_client, "alice").Allowed);
            throttle.RecordFailure("alice");
        }

        ThrottleDecision refused = throttle.TryBeginAttempt(IPAddress.Parse("198.51.100.7"), "alice"); // from anywhere
        Assert.False(refused.Allowed);
        // One failure comes back every window/limit = 5 minutes.
        Assert.InRange(refused.RetryAfter, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
        Assert.True(throttle.TryBeginAttempt(s_client, "bob").Allowed); // other names are not affected
    }

    [Fact]
    public void Attempts_per_address_are_limited_whatever_the_outcome()
    {
        using var throttle = new SignInThrottle(new AccountOptions { AddressAttemptLimit = 5, AddressAttemptWindow = TimeSpan.FromMinutes(1) });
        for (int i = 0; i < 5; i++)
        {
            Assert.True(throttle.TryBeginAttempt(s_client, $"name{i}").Allowed);
        }

        ThrottleDecision refused = throttle.TryBeginAttempt(s_client, "other");
        Assert.False(refused.Allowed);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(12));
        Assert.False(throttle.TryBeginAttempt(s_client, usernameKey: null).Allowed);
        Assert.True(throttle.TryBeginAttempt(IPAddress.Parse("192.0.2.2"), "other").Allowed);
    }

    [Fact]
    public void Ipv6_addresses_share_a_limit_per_64()
    {
        using var throttle = new SignInThrottle(new AccountOptions { AddressAttemptLimit = 2 });
        Assert.True(throttle.TryBeginAttempt(IPAddress.Parse("2001:db8:1:2::1"), null).Allowed);
        Assert.True(throttle.TryBeginAttempt(IPAddress.Parse("2001:db8:1:2:ffff::9"), null).Allowed);
        Assert.False(throttle.TryBeginAttempt(IPAddress.Parse("2001:db8:1:2:abcd::1"), null).Allowed);
        Assert.True(throttle.TryBeginAttempt(IPAddress.Parse("2001:db8:1:3::1"), null).Allowed);
    }

    [Fact]
    public void Ipv4_mapped_addresses_count_as_ipv4()
    {
        Assert.Equal(IPAddress.Parse("192.0.2.1"), SignInThrottle.PartitionOf(IPAddress.Parse("::ffff:192.0.2.1")));
        Assert.Equal(IPAddress.Parse("2001:db8::"), SignInThrottle.PartitionOf(IPAddress.Parse("2001:db8::1234:5678:9abc:def0")));
    }
}
