# ASan + UBSan for the whole build when ANTE_SANITIZE is on.
if(ANTE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # Asio's recycling allocator would hide use-after-free from ASan.
  add_compile_definitions(BOOST_ASIO_DISABLE_SMALL_BLOCK_RECYCLING)
endif()
