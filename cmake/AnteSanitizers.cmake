# ASan + UBSan for the whole build when ANTE_SANITIZE is on.
if(ANTE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # Asio's recycling allocator would hide use-after-free from ASan.
  add_compile_definitions(BOOST_ASIO_DISABLE_SMALL_BLOCK_RECYCLING)
endif()

# ThreadSanitizer, for the race tests. Separate from ASan: the two cannot be combined.
if(ANTE_SANITIZE_THREAD)
  # GCC 12 at -O1 misreads Asio's coroutine-frame operator delete as mismatched, and an
  # optional moved through Asio's parallel_group (the `||` operator) as maybe-uninitialized;
  # Asio's atomic_thread_fence trips -Wtsan.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-mismatched-new-delete
                      -Wno-maybe-uninitialized -Wno-error=tsan)
  add_link_options(-fsanitize=thread)
  add_compile_definitions(BOOST_ASIO_DISABLE_SMALL_BLOCK_RECYCLING)
endif()
