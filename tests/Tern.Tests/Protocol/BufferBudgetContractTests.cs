using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>
/// The budget's own contract: negative amounts are refused (a negative reservation would raise the limit for everyone),
/// the limit itself is reachable, and concurrent reservations never oversubscribe it.
/// </summary>
public sealed class BufferBudgetContractTests
{
    [Fact]
    public void Negative_limits_and_amounts_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BufferBudget(-1));
        var budget = new BufferBudget(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryReserve(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => budget.Release(-1));
        Assert.Equal(0, budget.InUse);
        Assert.Equal(10, budget.Limit);
    }

    [Fact]
    public void The_limit_is_reachable_and_nothing_passes_it()
    {
        var zero = new BufferBudget(0);
        Assert.True(zero.TryReserve(0));
        Assert.False(zero.TryReserve(1));

        var budget = new BufferBudget(10);
        Assert.True(budget.TryReserve(10));
        Assert.True(budget.TryReserve(0));
        Assert.False(budget.TryReserve(1));
        Assert.Equal(10, budget.InUse);
    }

    [Fact]
    public void Concurrent_reservations_take_exactly_the_limit()
    {
        // Contended compare-and-swap: every retry must start from the value seen, or reservations are lost or doubled.
        const int limit = 20_000;
        var budget = new BufferBudget(limit);
        int granted = 0;
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            while (budget.TryReserve(1))
            {
                Interlocked.Increment(ref granted);
            }
        });

        Assert.Equal(limit, granted);
        Assert.Equal(limit, budget.InUse);

        Parallel.For(0, limit, _ => budget.Release(1));
        Assert.Equal(0, budget.InUse);
    }
}
