#include <ante/router.hpp>

#include <gtest/gtest.h>

using ante::PathParams;
using ante::PathPattern;
using ante::RouteMatch;
using ante::Router;

TEST(PathPattern, MatchesLiteralsAndNamedParameters) {
    PathPattern p{"/orders/{id}/items/{item}"};
    PathParams params;
    ASSERT_TRUE(p.match("/orders/42/items/7", params));
    EXPECT_EQ(params.at("id"), "42");
    EXPECT_EQ(params.at("item"), "7");
    EXPECT_FALSE(p.match("/orders/42/items", params));
    EXPECT_FALSE(p.match("/orders/42/items/7/extra", params));
    EXPECT_FALSE(p.match("/orders//items/7", params)) << "a parameter never matches an empty segment";
    EXPECT_FALSE(p.match("/order/42/items/7", params));
}

TEST(PathPattern, RestParameterTakesTheRemainingPath) {
    PathPattern p{"/api/{rest...}"};
    PathParams params;
    ASSERT_TRUE(p.match("/api/v1/users/9", params));
    EXPECT_EQ(params.at("rest"), "v1/users/9");
    EXPECT_FALSE(p.match("/api", params));
}

TEST(PathPattern, RootAndTrailingSlashAreDistinct) {
    PathParams params;
    EXPECT_TRUE(PathPattern{"/"}.match("/", params));
    EXPECT_FALSE(PathPattern{"/"}.match("/x", params));
    EXPECT_TRUE(PathPattern{"/a/"}.match("/a/", params));
    EXPECT_FALSE(PathPattern{"/a"}.match("/a/", params));
}

TEST(PathPattern, MalformedPatternsAreRejectedWithTheReason) {
    EXPECT_THROW(PathPattern{"orders"}, std::invalid_argument);
    EXPECT_THROW(PathPattern{"/orders/{}"}, std::invalid_argument);
    EXPECT_THROW(PathPattern{"/orders/x{id}"}, std::invalid_argument);
    EXPECT_THROW(PathPattern{"/{rest...}/more"}, std::invalid_argument);
    try {
        PathPattern{"/a/{rest...}/b"};
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("last segment"), std::string::npos) << e.what();
    }
}

TEST(Router, FirstMatchingEntryWins) {
    Router r;
    r.add("GET", "/orders/new");
    r.add("GET", "/orders/{id}");
    auto m = r.match("GET", "/orders/new");
    ASSERT_EQ(m.kind, RouteMatch::Kind::found);
    EXPECT_EQ(m.index, 0u);
    m = r.match("GET", "/orders/5");
    ASSERT_EQ(m.kind, RouteMatch::Kind::found);
    EXPECT_EQ(m.index, 1u);
    EXPECT_EQ(m.params.at("id"), "5");
}

TEST(Router, UnknownPathIsNotFoundAndWrongMethodListsAllowed) {
    Router r;
    r.add("GET", "/orders/{id}");
    r.add("DELETE", "/orders/{id}");
    r.add("GET", "/orders/{other}");
    EXPECT_EQ(r.match("GET", "/nothing").kind, RouteMatch::Kind::not_found);
    auto m = r.match("POST", "/orders/1");
    ASSERT_EQ(m.kind, RouteMatch::Kind::method_not_allowed);
    EXPECT_EQ(m.allow, "GET, DELETE") << "each method once, in table order";
}

TEST(Router, WildcardMethodAcceptsAny) {
    Router r;
    r.add("*", "/any");
    EXPECT_EQ(r.match("PATCH", "/any").kind, RouteMatch::Kind::found);
}
