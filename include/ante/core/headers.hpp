#pragma once
/// \file
/// HTTP-style header fields, independent of any transport.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ante {

/// Case-insensitive ASCII comparison, as header names require (RFC 9110 §5.1).
bool iequals(std::string_view a, std::string_view b) noexcept;

/// An ordered list of header fields. Lookups ignore the case of names; order and
/// repeated fields are kept, so a message round-trips unchanged.
class Headers {
public:
    using Field = std::pair<std::string, std::string>;

    /// The first value of `name`, if present.
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
    [[nodiscard]] bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
    /// Replaces every field named `name` by one field with `value`.
    void set(std::string_view name, std::string_view value);
    /// Appends a field, keeping any existing ones of the same name.
    void add(std::string_view name, std::string_view value);
    /// Removes every field named `name`.
    void erase(std::string_view name);

    [[nodiscard]] auto begin() const noexcept { return fields_.begin(); }
    [[nodiscard]] auto end() const noexcept { return fields_.end(); }
    [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }
    [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }

private:
    std::vector<Field> fields_;
};

}  // namespace ante
