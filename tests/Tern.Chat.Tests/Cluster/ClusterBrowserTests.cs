using Tern.Chat.Tests.Browser;
using Tern.Chat.Tests.Support;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Cluster;

/// <summary>The page itself on a cluster: two people in headless Chromium, each on a node of their own.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ClusterBrowserTests(PostgresFixture postgres, BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Two_people_on_two_nodes_talk_to_each_other()
    {
        await using ChatCluster cluster = await ChatCluster.StartAsync(postgres, nodes: 2, output, nginx: false);
        await using ChatPage alice = await ChatPage.OpenAsync(browser.Browser, cluster.Nodes[0].Url);
        await using ChatPage bob = await ChatPage.OpenAsync(browser.Browser, cluster.Nodes[1].Url);
        await alice.SignUpAsync("alice");
        await bob.SignUpAsync("bob");
        await alice.JoinRoomAsync("general");
        await bob.JoinRoomAsync("general");

        await alice.SayAsync("Hello from the first node");
        await Expect(bob.Message("Hello from the first node")).ToBeVisibleAsync();
        await bob.SayAsync("And back from the second");
        await Expect(alice.Message("And back from the second")).ToBeVisibleAsync();

        // In one order on both pages, each message once, and nothing left waiting in an outbox.
        string[] expected = ["Hello from the first node", "And back from the second"];
        await Expect(alice.Messages).ToHaveTextAsync(expected);
        await Expect(bob.Messages).ToHaveTextAsync(expected);
        await Expect(alice.Pending).ToHaveCountAsync(0);
        Assert.Empty(alice.PageErrors);
        Assert.Empty(bob.PageErrors);
    }
}
