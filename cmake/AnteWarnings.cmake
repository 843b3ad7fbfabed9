# Warnings for the project's own targets (never forced on consumers).
function(ante_warnings target)
  # Designated initializers that leave defaulted members out are the intended way to set options;
  # GCC 12 still warns about them under -Wextra.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
  if(ANTE_WARNINGS_AS_ERRORS)
    # GCC 12 flags Asio's atomic_thread_fence under TSan; it is not ours to fix.
    target_compile_options(${target} PRIVATE -Werror -Wno-error=tsan)
  endif()
endfunction()
